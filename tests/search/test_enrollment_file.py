"""The enrollment JSON: a key given twice, and names that become a reserved or a shared folder, are refused."""

import json

import pytest

from reid.errors import ReidError
from reid.search.enrollment import read_enrollment


def test_a_character_given_twice_is_refused_with_both_lines(cli, data):
    (data / "twice.json").write_text('{\n  "Aoi": "references/Aoi",\n  "Aoi": "references/Beni"\n}\n')
    result = cli("enroll", data / "twice.json", ok=False)
    assert result.exit_code == 1 and result.stderr.strip() == \
        f"error: {data / 'twice.json'}: the key 'Aoi' appears twice (lines 2 and 3); keep one of them"


@pytest.mark.parametrize("name", ["unknown", "unknown.", " Unknown ", "UNKNOWN.."])
def test_a_name_whose_folder_would_be_unknown_is_refused(data, name):
    (data / "e.json").write_text(json.dumps({name: "references/Aoi", "Beni": "references/Beni"}))
    with pytest.raises(ReidError, match="would be the folder 'unknown', which is reserved"):
        read_enrollment(data / "e.json")


@pytest.mark.parametrize("a, b", [("a/b", "a_b"), ("Aoi", "aoi"), ("Aoi?", "Aoi*")])
def test_names_that_would_share_a_result_folder_are_refused(data, a, b):
    (data / "e.json").write_text(json.dumps({a: "references/Aoi", b: "references/Beni"}))
    with pytest.raises(ReidError, match="would share the result folder"):
        read_enrollment(data / "e.json")
