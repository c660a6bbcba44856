"""A/B bundle updates: two slots on disk (:mod:`.slots`), a probation in the agent (:mod:`.probation`), and what
``bearing-agent deploy`` does through the journal (:mod:`.commands`)."""
