"""graphql-core's leaf serialisation tests, as field values, on graphql-core's execution and on
the engine's: same bytes.

Ported from the `coerce_output_value` cases of graphql-core's tests/type/test_scalars.py
(commit e49e4e2d, 3.3.0rc0; run here on the installed 3.3.2) for Int, Float, String, Boolean
and ID: each value is the plain attribute `value` of the object under the root field `data`
(tests/support/both_paths.py), which the engine's plans complete (its fast cases for str, int
and bool among them); a value graphql-core cannot serialise is that field's error. Left out:
NaN and infinite values that graphql-core would pass (none: each is an error there too, and
they are kept), and values whose only point is a Python subclass of a builtin.
"""

from __future__ import annotations

from math import inf, nan
from typing import Any

import pytest
import strawberry

from tests.support.both_paths import both_ways, same, under_data


def data_type(annotation: Any) -> type:
    return strawberry.type(type("DataType", (), {"__annotations__": {"value": annotation}}))


class StringableObjValue:
    def __str__(self) -> str:
        return "something useful"

    def __repr__(self) -> str:  # a test id the same in every process (pytest-xdist)
        return "StringableObjValue()"


class ObjValue:
    def __init__(self, value: int) -> None:
        self._id = value

    def __str__(self) -> str:
        return str(self._id)

    def __repr__(self) -> str:  # a test id the same in every process (pytest-xdist)
        return f"ObjValue({self._id})"


INT_ERROR = "Int cannot represent non-integer value: "
INT_RANGE = "Int cannot represent non 32-bit signed integer value: "
FLOAT_ERROR = "Float cannot represent non numeric value: "
BOOLEAN_ERROR = "Boolean cannot represent a non boolean value: "

CASES: dict[str, tuple[Any, list[tuple[Any, Any]]]] = {
    "Int": (
        int,
        [
            (1, 1),
            ("123", 123),
            (0, 0),
            (-1, -1),
            (1e5, 100000),
            (False, 0),
            (True, 1),
            (type("Int", (int,), {})(5), 5),
            (0.1, INT_ERROR + "0.1"),
            (1.1, INT_ERROR + "1.1"),
            (-1.1, INT_ERROR + "-1.1"),
            ("-1.1", INT_ERROR + "'-1.1'"),
            (9876504321, INT_RANGE + "9876504321"),
            (-9876504321, INT_RANGE + "-9876504321"),
            ("9876504321", INT_RANGE + "'9876504321'"),
            ("-9876504321", INT_RANGE + "'-9876504321'"),
            (1e100, INT_RANGE + "1e+100"),
            (-1e100, INT_RANGE + "-1e+100"),
            ("one", INT_ERROR + "'one'"),
            ("", INT_ERROR + "''"),
            (nan, INT_ERROR + "nan"),
            (inf, INT_ERROR + "inf"),
            ([5], INT_ERROR + "[5]"),
        ],
    ),
    "Float": (
        float,
        [
            (1, 1.0),
            (0, 0.0),
            ("123.5", 123.5),
            (-1, -1.0),
            (0.1, 0.1),
            (1.1, 1.1),
            (-1.1, -1.1),
            ("-1.1", -1.1),
            (False, 0),
            (True, 1),
            (type("Float", (float,), {})(5.5), 5.5),
            (9007199254740992, 9007199254740992),
            (nan, FLOAT_ERROR + "nan"),
            (inf, FLOAT_ERROR + "inf"),
            (9007199254740993, FLOAT_ERROR + "9007199254740993 (value would lose precision)"),
            ("one", FLOAT_ERROR + "'one'"),
            ("inf", FLOAT_ERROR + "'inf'"),
            ("nan", FLOAT_ERROR + "'nan'"),
            ("", FLOAT_ERROR + "''"),
            ([5], FLOAT_ERROR + "[5]"),
        ],
    ),
    "String": (
        str,
        [
            ("string", "string"),
            (1, "1"),
            (-1.1, "-1.1"),
            (True, "true"),
            (False, "false"),
            (StringableObjValue(), "something useful"),
            (nan, "String cannot represent value: nan"),
            ([1], "String cannot represent value: [1]"),
            ({}, "String cannot represent value: {}"),
            (
                {"value_of": "value_of string"},
                "String cannot represent value: {'value_of': 'value_of string'}",
            ),
        ],
    ),
    "Boolean": (
        bool,
        [
            (1, True),
            (0, False),
            (1.5, True),
            (0.0, False),
            (True, True),
            (False, False),
            (nan, BOOLEAN_ERROR + "nan"),
            ("", BOOLEAN_ERROR + "''"),
            ("True", BOOLEAN_ERROR + "'True'"),
            ([False], BOOLEAN_ERROR + "[False]"),
            ({}, BOOLEAN_ERROR + "{}"),
        ],
    ),
    "ID": (
        strawberry.ID,
        [
            ("string", "string"),
            ("false", "false"),
            ("", ""),
            (123, "123"),
            (42.0, "42"),
            (0, "0"),
            (-1, "-1"),
            (ObjValue(123), "123"),
            (True, "ID cannot represent value: True"),
            (3.14, "ID cannot represent value: 3.14"),
            ({}, "ID cannot represent value: {}"),
            (["abc"], "ID cannot represent value: ['abc']"),
        ],
    ),
}
PARAMS = [
    pytest.param(name, value, output, id=f"{name}-{value!r}")
    for name, (_, cases) in CASES.items()
    for value, output in cases
]


@pytest.mark.parametrize(("scalar", "value", "output"), PARAMS)
async def test_coerce_output_value(scalar: str, value: Any, output: Any) -> None:
    annotation = CASES[scalar][0]
    type_ = data_type(annotation | None)
    answer = await both_ways(type_, lambda: type_(value=value), "{ value }")
    if isinstance(output, str) and " cannot represent " in output:  # graphql-core's error
        assert same(answer, under_data({"value": None}, [(output, ["value"])]))
    else:
        assert same(answer, under_data({"value": output}))
        assert answer.planned
