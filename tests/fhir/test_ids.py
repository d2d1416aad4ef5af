"""The one FHIR id check (R4 datatypes.html#id: [A-Za-z0-9-.]{1,64}), used by every route that takes an id."""
import pytest

from service.fhir.shape import is_fhir_id


@pytest.mark.parametrize("value", ["a", "cr-1", "A.b-9", "x" * 64, "..", "0"])
def test_ids_of_the_r4_syntax_are_accepted(value):
    assert is_fhir_id(value)


@pytest.mark.parametrize("value", ["", "x" * 65, "a b", "a/b", "a_b", "é", "a\n", "$status", None, 7, b"a"])
def test_anything_else_is_not_an_id(value):
    assert not is_fhir_id(value)


def test_a_deleted_resource_is_a_410_with_the_deleted_code():
    from service.errors import gone, render
    status, body, headers = render(gone("Subscription/s1"))
    assert status == 410 and b'"code":"deleted"' in body and b"Subscription/s1 was deleted" in body
    assert headers["content-type"] == "application/fhir+json"
