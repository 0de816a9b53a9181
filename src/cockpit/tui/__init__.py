"""The Textual front end: renders what the core returns, sends it the operator's intents."""
