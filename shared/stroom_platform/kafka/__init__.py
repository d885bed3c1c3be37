"""The one way Stroom talks to Kafka: clients made for the broker's profile, a record-batch
sender, a batch consumer, the dead-letter policy and the lag calculation."""
