"""The project's changes to Rasa: one list, all installed, each with its reason and a comparison test, version-guarded."""

from __future__ import annotations

from pathlib import Path

import pytest

from components import rasa_patches

ROOT = Path(__file__).resolve().parent.parent


def test_every_patch_is_installed_and_names_a_reason_and_an_existing_test_that_uses_it() -> None:
    assert len(rasa_patches.PATCHES) == 6
    assert len({p.name for p in rasa_patches.PATCHES}) == 6
    for patch in rasa_patches.PATCHES:
        assert rasa_patches.is_installed(patch), patch.name
        assert patch.reason
        test = ROOT / patch.test
        assert test.is_file(), f"{patch.name}: {patch.test} does not exist"
        assert patch.attribute in test.read_text(), f"{patch.name}: {patch.test} never names {patch.attribute}"


def test_installing_again_changes_nothing_and_rasas_own_comes_back_only_inside_the_block() -> None:
    patch = rasa_patches.find(rasa_patches.Domain, "is_empty")
    rasa_patches.install()
    assert rasa_patches.is_installed(patch)
    with rasa_patches.rasas_own(patch):
        assert not rasa_patches.is_installed(patch)
        assert rasa_patches.Domain.__dict__["is_empty"] is rasa_patches._originals[patch.name]
    assert rasa_patches.is_installed(patch)


def test_the_installed_rasa_is_the_version_the_patches_were_written_for() -> None:
    assert rasa_patches.installed_rasa_version() == rasa_patches.RASA_VERSION == "3.6.21"
    rasa_patches.check_rasa_version()


def test_another_rasa_version_stops_the_install_before_anything_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.version

    monkeypatch.setattr(rasa.version, "__version__", "3.6.22")
    steps: list[str] = []
    monkeypatch.setattr(rasa_patches.session_bound, "configure", lambda: steps.append("configured"))
    monkeypatch.setattr(rasa_patches, "setattr", lambda *args: steps.append("replaced"), raising=False)
    with pytest.raises(rasa_patches.RasaVersionError) as raised:
        rasa_patches.install()
    message = str(raised.value)
    assert "Rasa 3.6.22 is installed" in message and "Rasa 3.6.21" in message and "rasa==3.6.21" in message
    assert steps == []


def test_a_patched_attribute_that_rasa_no_longer_has_stops_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    class Renamed:  # a Rasa class whose private method was renamed in a release
        pass

    stale = rasa_patches.Patch(
        Renamed, "_has_session_expired", lambda self: False, "test", "tests/test_rasa_patches.py"
    )
    monkeypatch.setattr(rasa_patches, "PATCHES", (*rasa_patches.PATCHES, stale))
    with pytest.raises(rasa_patches.RasaVersionError, match=r"Rasa 3\.6\.21 has no Renamed\._has_session_expired"):
        rasa_patches.install()
    assert "_has_session_expired" not in Renamed.__dict__
