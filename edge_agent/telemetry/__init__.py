"""Fleet telemetry: the journal published to MQTT (with Home Assistant discovery) and as Prometheus metrics.

``bearing-agent publish`` runs these modules in a process of its own that
follows the agent's journal (docs/telemetry.md says why): ``topics`` names
the MQTT topics, ``payloads`` turns journal rows into messages, ``discovery``
describes the node to Home Assistant, ``outbox`` is the cursor over the
journal, ``broker`` connects and explains failures, ``publisher`` is the loop,
``metrics`` the Prometheus exporter.
"""
