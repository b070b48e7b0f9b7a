"""Fixtures shared by the attack tests: the audited baseline (`audited`: sealed, checkpointed, anchored and
verified history) is defined beside the log attacks and offered to every module here."""

from tests.adversarial.test_integrity_adversarial import audited  # noqa: F401 -- registers the fixture
