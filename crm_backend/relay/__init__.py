"""The event relay: Rasa's event stream into the CRM (escalation requests, customer messages of escalated
conversations, late CSAT answers).

``sql.EventRelay`` polls Rasa's SQL event-broker table (one machine); ``rabbitmq.PikaEventRelay`` consumes Rasa's pika
broker (scaled profile); ``factory.make_relay`` picks one from the settings; ``worker.PeriodicWorker`` is the
background thread both run on.
"""
