"""Infrastructure shared by Stroom's services: settings, database, broker, logging, HTTP plumbing."""
