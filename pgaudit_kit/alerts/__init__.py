"""Alerts: rules over recorded events and the kit's health (rules.py), evaluated by the alerts process
(engine.py), rendered in a receiver's format (formats.py) and delivered at least once (sinks.py).

Pure up to engine.py: the model, the rules, the formats and the sinks read no database."""
