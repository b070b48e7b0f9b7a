"""Changing what is audited and who may act: enrolment, the kit's roles, lockdown. Each change is recorded."""
