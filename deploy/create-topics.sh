#!/usr/bin/env bash
# Creates Stroom's Kafka topics; run once before the services start, safe to run again.
set -euo pipefail

bootstrap="${KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
replicas="${STROOM_TOPIC_REPLICATION_FACTOR:-1}"

create() {
  local topic="$1" partitions="$2"
  shift 2
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --create --if-not-exists \
    --topic "$topic" --partitions "$partitions" --replication-factor "$replicas" "$@"
}

# The events are the replayable log every projection is rebuilt from: kept forever.
create "${STROOM_EVENTS_TOPIC:-stroom.events.v1}" 12 \
  --config cleanup.policy=delete --config retention.ms=-1
# Facts are the log of changes to the entities' rows, each applied on top of the one before:
# kept forever, like the events.
create "${STROOM_FACTS_TOPIC:-stroom.caseload.facts.v2}" 12 \
  --config cleanup.policy=delete --config retention.ms=-1
# Refused records wait 30 days for someone to look at them.
create "${STROOM_DEAD_LETTER_TOPIC:-stroom.events.v1.dead-letter}" 3 \
  --config cleanup.policy=delete --config retention.ms=2592000000
create "${STROOM_FACTS_DEAD_LETTER_TOPIC:-stroom.caseload.facts.v2.dead-letter}" 3 \
  --config cleanup.policy=delete --config retention.ms=2592000000
# One record naming this cluster's log: a cluster rebuilt without it makes intake publish its
# outbox again and the consumers read from the start (stroom_platform.broker.broker_epoch).
create stroom.broker.epoch 1 --config cleanup.policy=delete --config retention.ms=-1 \
  --config retention.bytes=-1

/opt/kafka/bin/kafka-topics.sh --bootstrap-server "$bootstrap" --describe \
  --topic "${STROOM_EVENTS_TOPIC:-stroom.events.v1}"
