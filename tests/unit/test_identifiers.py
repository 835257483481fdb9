"""Unit tests for app.domain.identifiers.

Every check digit used below is computed by hand in a comment, independently of the code.

Swedish (Luhn over YYMMDDNNN, weights 2,1,2,1,2,1,2,1,2, products > 9 digit-summed,
check = (10 - sum % 10) % 10).

Norwegian (K1 weights 3 7 6 1 8 9 4 5 2 over digits 1-9, K2 weights 5 4 3 2 7 6 5 4 3 2 over
digits 1-10, k = 11 - sum % 11, 11 -> 0, 10 -> invalid).
"""

from __future__ import annotations

import datetime

import pytest

from app.domain.identifiers import (
    D_NUMMER,
    FODSELSNUMMER,
    H_NUMMER,
    PERSONNUMMER,
    PERSONNUMMER_OID,
    SAMORDNINGSNUMMER,
    SAMORDNINGSNUMMER_OID,
    InvalidIdentifier,
    PersonIdentifier,
    luhn_check_digit,
    make_fodselsnummer,
    make_personnummer,
    mod11_check_digits,
    normalize_person_identifier,
)

TODAY = datetime.date(2024, 6, 15)
RESERVE = "urn:oid:1.2.752.97.3.1.3"


def normalize(system: str, value: str, **kwargs: frozenset[str]) -> PersonIdentifier:
    return normalize_person_identifier(system, value, today=TODAY, **kwargs)


def refusal(system: str, value: str, **kwargs: frozenset[str]) -> InvalidIdentifier:
    with pytest.raises(InvalidIdentifier) as caught:
        normalize(system, value, **kwargs)
    return caught.value


# --- constants ---------------------------------------------------------------------------


def test_system_uri_constants() -> None:
    assert PERSONNUMMER == "http://electronichealth.se/identifier/personnummer"
    assert PERSONNUMMER_OID == "urn:oid:1.2.752.129.2.1.3.1"
    assert SAMORDNINGSNUMMER == "http://electronichealth.se/identifier/samordningsnummer"
    assert SAMORDNINGSNUMMER_OID == "urn:oid:1.2.752.129.2.1.3.3"
    assert FODSELSNUMMER == "urn:oid:2.16.578.1.12.4.1.4.1"
    assert D_NUMMER == "urn:oid:2.16.578.1.12.4.1.4.2"
    assert H_NUMMER == "urn:oid:2.16.578.1.12.4.1.4.3"


# --- check-digit helpers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        # 1 2 1 2 1 2 1 2 1 -> 2 2 2 2 2 2 2 2 2 = 18 -> (10 - 8) % 10 = 2
        ("121212121", 2),
        # 9 0 0 1 0 1 9 8 0 -> 18(=9) 0 0 1 0 1 18(=9) 8 0 = 28 -> 2
        ("900101980", 2),
        # 2 4 0 6 1 5 1 2 3 -> 4 4 0 6 2 5 2 2 6 = 31 -> 9
        ("240615123", 9),
        # 0 0 0 0 0 0 0 0 0 -> 0 -> (10 - 0) % 10 = 0 (the outer % 10)
        ("000000000", 0),
    ],
)
def test_luhn_check_digit(digits: str, expected: int) -> None:
    assert luhn_check_digit(digits) == expected


@pytest.mark.parametrize("bad", ["", "12a", "١٢٣"])
def test_luhn_check_digit_rejects_non_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        luhn_check_digit(bad)


def test_mod11_check_digits() -> None:
    # 010190124: K1 = 0*3+1*7+0*6+1*1+9*8+0*9+1*4+2*5+4*2 = 0+7+0+1+72+0+4+10+8 = 102;
    #   102 % 11 = 3 -> K1 = 8.
    #   K2 over 0101901248: 0*5+1*4+0*3+1*2+9*7+0*6+1*5+2*4+4*3+8*2 = 0+4+0+2+63+0+5+8+12+16
    #   = 110; 110 % 11 = 0 -> 11 -> K2 = 0.
    assert mod11_check_digits("010190124") == (8, 0)
    # 010190125: K1 sum = 102 - 8 + 10 = 104; 104 % 11 = 5 -> K1 = 6.
    #   K2: 0+4+0+2+63+0+5+8+5*3+6*2 = 109; 109 % 11 = 10 -> K2 = 1.
    assert mod11_check_digits("010190125") == (6, 1)
    # 010190123: K1 sum = 0+7+0+1+72+0+4+10+3*2 = 100; 100 % 11 = 1 -> K1 = 10 -> invalid.
    assert mod11_check_digits("010190123") is None
    # 010190104: K1 = 0+7+0+1+72+0+4+0+8 = 92; 92 % 11 = 4 -> K1 = 7.
    #   K2 over 0101901047: 0+4+0+2+63+0+5+0+12+14 = 100; 100 % 11 = 1 -> K2 = 10 -> invalid.
    assert mod11_check_digits("010190104") is None


@pytest.mark.parametrize("bad", ["01019012", "0101901245", "01019012x"])
def test_mod11_check_digits_requires_nine_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        mod11_check_digits(bad)


# --- Swedish personnummer ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("19121212-1212", "191212121212"),  # check 2, see test_luhn_check_digit
        ("191212121212", "191212121212"),
        ("  19121212-1212\n", "191212121212"),  # surrounding whitespace is stripped
        ("189001019802", "189001019802"),  # check 2 (900101980, see above)
        ("19900101-9802", "199001019802"),
    ],
)
def test_personnummer_long_forms(value: str, expected: str) -> None:
    assert normalize(PERSONNUMMER, value) == PersonIdentifier(PERSONNUMMER, expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # YY = 12: most recent year ending in 12 not after 2024-06-15 is 2012.
        ("121212-1212", "201212121212"),
        ("1212121212", "201212121212"),
        # '+' means 100 or older: one more century back.
        ("121212+1212", "191212121212"),
        ("900101-9802", "199001019802"),
        ("900101+9802", "189001019802"),
        # 240615 (check 9, see above) is today -> 2024; 240616 would be tomorrow -> 1924.
        # 2 4 0 6 1 6 1 2 3 -> 4 4 0 6 2 6 2 2 6 = 32 -> check 8.
        ("240615-1239", "202406151239"),
        ("240616-1238", "192406161238"),
        ("240615+1239", "192406151239"),
    ],
)
def test_personnummer_short_forms_resolve_century(value: str, expected: str) -> None:
    assert normalize(PERSONNUMMER, value).value == expected


def test_personnummer_oid_alias_maps_to_canonical_system() -> None:
    assert normalize(PERSONNUMMER_OID, "19121212-1212") == PersonIdentifier(
        PERSONNUMMER, "191212121212"
    )


def test_wrong_check_digit_is_named_in_reason() -> None:
    error = refusal(PERSONNUMMER, "19121212-1213")
    assert error.reason == "the check digit of personnummer 19121212-1213 is wrong: expected 2"
    assert error.system == PERSONNUMMER
    assert str(error) == error.reason
    assert isinstance(error, ValueError)


def test_leap_days() -> None:
    # 0 0 0 2 2 9 1 2 3 -> 0 0 0 2 4 9 2 2 6 = 25 -> check 5.
    assert normalize(PERSONNUMMER, "200002291235").birth_date == datetime.date(2000, 2, 29)
    assert normalize(PERSONNUMMER, "000229-1235").value == "200002291235"
    # Same digits in 1900, which was not a leap year.
    assert "real date" in refusal(PERSONNUMMER, "190002291235").reason
    assert "real date" in refusal(PERSONNUMMER, "000229+1235").reason


def test_month_13_and_day_32_are_refused_by_the_date_rule() -> None:
    # 121312121 -> 2 2 2 3 2 2 2 2 2 = 19 -> check 1.
    assert "real date" in refusal(PERSONNUMMER, "19121312-1211").reason
    # 121232121 -> 2 2 2 2 6 2 2 2 2 = 22 -> check 8.
    assert "real date" in refusal(PERSONNUMMER, "19121232-1218").reason


def test_future_birth_date_is_refused() -> None:
    # 3 0 0 1 0 1 1 2 3 -> 6 0 0 1 0 1 2 2 6 = 18 -> check 2.
    assert "future" in refusal(PERSONNUMMER, "20300101-1232").reason
    # The same short form resolves to 1930 and is accepted.
    assert normalize(PERSONNUMMER, "300101-1232").value == "193001011232"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "19121212+1212",
        "191212-12121",
        "19121212/1212",
        "19121212 1212",
        "١٩١٢١٢١٢١٢١٢",  # non-ASCII (Arabic-Indic) digits, long form
        "١٢١٢١٢-١٢١٢",  # non-ASCII digits, short form
    ],
)
def test_personnummer_bad_shapes_are_refused(value: str) -> None:
    error = refusal(PERSONNUMMER, value)
    assert "expected one of the forms" in error.reason
    assert error.reason.startswith("the value is not a personnummer")


def test_ten_digits_are_read_as_short_form() -> None:
    # "1912121212" is read as YYMMDDNNNC = 191212-1212, Luhn over 191212121:
    # 1 9 1 2 1 2 1 2 1 -> 2 9 2 2 2 2 2 2 2 = 25 -> check 5, not 2.
    assert "expected 5" in refusal(PERSONNUMMER, "1912121212").reason


# --- Swedish samordningsnummer -----------------------------------------------------------


def test_samordningsnummer_day_plus_60() -> None:
    # 1912-12-12 with day 12 + 60 = 72: 1 2 1 2 7 2 1 2 1 -> 2 2 2 2 14(=5) 2 2 2 2 = 21 -> 9.
    result = normalize(SAMORDNINGSNUMMER, "19121272-1219")
    assert result == PersonIdentifier(SAMORDNINGSNUMMER, "191212721219")
    assert result.birth_date == datetime.date(1912, 12, 12)
    assert result.jurisdiction == "SE"
    assert normalize(SAMORDNINGSNUMMER_OID, "121272+1219").system == SAMORDNINGSNUMMER


def test_samordningsnummer_underlying_date_must_be_real() -> None:
    # Day 91 = 31 + 60 in February: 1 2 0 2 9 1 1 2 3 -> 2 2 0 2 18(=9) 1 2 2 6 = 26 -> 4.
    assert "real date" in refusal(SAMORDNINGSNUMMER, "19120291-1234").reason


def test_samordningsnummer_under_personnummer_system_is_refused() -> None:
    error = refusal(PERSONNUMMER, "19121272-1219")
    assert "looks like a samordningsnummer" in error.reason
    assert SAMORDNINGSNUMMER in error.reason


def test_personnummer_under_samordningsnummer_system_is_refused() -> None:
    error = refusal(SAMORDNINGSNUMMER, "19121212-1212")
    assert "looks like a personnummer" in error.reason


# --- Norwegian ---------------------------------------------------------------------------


def test_fodselsnummer_built_by_hand() -> None:
    # 01.01.1990, individual number 124 -> K1 = 8, K2 = 0 (see test_mod11_check_digits).
    result = normalize(FODSELSNUMMER, "01019012480")
    assert result == PersonIdentifier(FODSELSNUMMER, "01019012480")
    assert result.birth_date == datetime.date(1990, 1, 1)
    assert result.jurisdiction == "NO"
    # Individual number 125 -> K1 = 6, K2 = 1.
    assert normalize(FODSELSNUMMER, "01019012561").value == "01019012561"


def test_fodselsnummer_optional_space_between_groups() -> None:
    assert normalize(FODSELSNUMMER, " 010190 12480 ").value == "01019012480"
    assert "11 digits" in refusal(FODSELSNUMMER, "010190  12480").reason
    assert "11 digits" in refusal(FODSELSNUMMER, "0101 9012480").reason
    assert "11 digits" in refusal(FODSELSNUMMER, "٠١٠١٩٠١٢٤٨٠").reason  # non-ASCII digits


def test_first_check_digit_of_ten_is_refused() -> None:
    # 01.01.1990 with individual number 123: K1 = 11 - (100 % 11) = 10 -> no valid number.
    for k1k2 in ("00", "10", "99"):
        error = refusal(FODSELSNUMMER, "010190123" + k1k2)
        assert "first check digit computes to 10" in error.reason


def test_second_check_digit_of_ten_is_refused() -> None:
    # 010190104: K1 = 7, K2 = 10 (see test_mod11_check_digits).
    error = refusal(FODSELSNUMMER, "01019010470")
    assert "second check digit computes to 10" in error.reason


def test_wrong_norwegian_check_digits_are_named() -> None:
    assert refusal(FODSELSNUMMER, "01019012490").reason == (
        "the first check digit of fødselsnummer 01019012490 is wrong: expected 8"
    )
    assert refusal(FODSELSNUMMER, "01019012481").reason == (
        "the second check digit of fødselsnummer 01019012481 is wrong: expected 0"
    )


@pytest.mark.parametrize(
    ("value", "birth"),
    [
        # 000-499 -> 1900s. (010190124 -> 80, above.)
        ("01019012480", datetime.date(1990, 1, 1)),
        # 500-749 with YY 54-99 -> 1854-1899. 010190501:
        #   K1 = 0+7+0+1+72+0+5*4+0+1*2 = 102 -> 102 % 11 = 3 -> 8;
        #   K2 = 0+4+0+2+63+0+5*5+0+1*3+8*2 = 113 -> 113 % 11 = 3 -> 8.
        ("01019050188", datetime.date(1890, 1, 1)),
        # 500-999 with YY 00-39 -> 2000s. 010110500:
        #   K1 = 0+7+0+1+1*8+0+5*4+0+0 = 36 -> 36 % 11 = 3 -> 8;
        #   K2 = 0+4+0+2+1*7+0+5*5+0+0+8*2 = 54 -> 54 % 11 = 10 -> 1.
        ("01011050081", datetime.date(2010, 1, 1)),
        # 900-999 with YY 40-99 -> 1940-1999. 010190900:
        #   K1 = 0+7+0+1+72+0+9*4+0+0 = 116 -> 116 % 11 = 6 -> 5;
        #   K2 = 0+4+0+2+63+0+9*5+0+0+5*2 = 124 -> 124 % 11 = 3 -> 8.
        ("01019090058", datetime.date(1990, 1, 1)),
    ],
)
def test_norwegian_century_from_individual_number(value: str, birth: datetime.date) -> None:
    assert normalize(FODSELSNUMMER, value).birth_date == birth


def test_individual_number_without_century_is_refused() -> None:
    # 01.01.45 with individual number 800 (750-899 is only issued for YY 00-39).
    #   K1 = 0+7+0+1+4*8+5*9+8*4+0+0 = 117 -> 117 % 11 = 7 -> 4;
    #   K2 = 0+4+0+2+4*7+5*6+8*5+0+0+4*2 = 112 -> 112 % 11 = 2 -> 9.
    error = refusal(FODSELSNUMMER, "01014580049")
    assert "individual number 800" in error.reason


def test_norwegian_leap_day_depends_on_century() -> None:
    # 29.02.00 with 500 (-> 2000, leap year): K1 = 6+63+0+2+0+0+20+0+0 = 91 -> 91 % 11 = 3
    #   -> 8; K2 = 10+36+0+4+0+0+25+0+0+16 = 91 -> 3 -> 8.
    assert normalize(FODSELSNUMMER, "29020050088").birth_date == datetime.date(2000, 2, 29)
    # 29.02.00 with 100 (-> 1900, not a leap year): K1 = 6+63+0+2+0+0+4+0+0 = 75 -> 75 % 11 = 9
    #   -> 2; K2 = 10+36+0+4+0+0+5+0+0+2*2 = 59 -> 59 % 11 = 4 -> 7.
    assert "real date" in refusal(FODSELSNUMMER, "29020010027").reason


def test_norwegian_future_birth_date_is_refused() -> None:
    # 01.01.2030 with 500: K1 = 0+7+0+1+3*8+0+20+0+0 = 52 -> 52 % 11 = 8 -> 3;
    #   K2 = 0+4+0+2+3*7+0+25+0+0+3*2 = 58 -> 58 % 11 = 3 -> 8.
    assert "future" in refusal(FODSELSNUMMER, "01013050038").reason


def test_d_nummer() -> None:
    # 01.01.1990 + 40 on the day -> 41 01 90 124: K1 = 12+7+0+1+72+0+4+10+8 = 114
    #   -> 114 % 11 = 4 -> 7; K2 = 20+4+0+2+63+0+5+8+12+7*2 = 128 -> 128 % 11 = 7 -> 4.
    result = normalize(D_NUMMER, "41019012474")
    assert result == PersonIdentifier(D_NUMMER, "41019012474")
    assert result.birth_date == datetime.date(1990, 1, 1)
    assert result.jurisdiction == "NO"


def test_h_nummer() -> None:
    # 01.01.1990 + 40 on the month -> 01 41 90 124: K1 = 0+7+4*6+1+72+0+4+10+8 = 126
    #   -> 126 % 11 = 5 -> 6; K2 = 0+4+4*3+2+63+0+5+8+12+6*2 = 118 -> 118 % 11 = 8 -> 3.
    result = normalize(H_NUMMER, "01419012463")
    assert result == PersonIdentifier(H_NUMMER, "01419012463")
    assert result.birth_date == datetime.date(1990, 1, 1)


@pytest.mark.parametrize(
    ("system", "value", "looks_like"),
    [
        (FODSELSNUMMER, "41019012474", "D-nummer"),
        (FODSELSNUMMER, "01419012463", "H-nummer"),
        (D_NUMMER, "01019012480", "fødselsnummer"),
        (D_NUMMER, "01419012463", "H-nummer"),
        (H_NUMMER, "01019012480", "fødselsnummer"),
        (H_NUMMER, "41019012474", "D-nummer"),
    ],
)
def test_wrong_norwegian_system_is_refused(system: str, value: str, looks_like: str) -> None:
    assert f"looks like a {looks_like}" in refusal(system, value).reason


def test_swedish_value_under_norwegian_system_is_refused() -> None:
    assert "11 digits" in refusal(FODSELSNUMMER, "191212121212").reason


# --- reserve numbers and unknown systems -------------------------------------------------


def test_reserve_numbers_accepted_for_configured_systems() -> None:
    result = normalize(RESERVE, "  RES-0042ab ", reserve_systems=frozenset({RESERVE}))
    assert result == PersonIdentifier(RESERVE, "RES-0042ab")
    assert result.jurisdiction is None
    assert result.birth_date is None
    # No check-digit validation: this would fail Luhn as a personnummer.
    assert normalize(RESERVE, "191212121213", reserve_systems=frozenset({RESERVE})).value == (
        "191212121213"
    )


@pytest.mark.parametrize("value", ["", "RES 42", "RES_42", "Å123", "A" * 41])
def test_reserve_number_shape_is_checked(value: str) -> None:
    error = refusal(RESERVE, value, reserve_systems=frozenset({RESERVE}))
    assert "reserve number" in error.reason


def test_reserve_number_of_forty_characters_is_accepted() -> None:
    assert normalize(RESERVE, "A" * 40, reserve_systems=frozenset({RESERVE})).value == "A" * 40


def test_reserve_system_not_configured_is_unknown() -> None:
    error = refusal(RESERVE, "RES-0042", reserve_systems=frozenset({"urn:other"}))
    assert error.reason.startswith(f"unknown identifier system '{RESERVE}'; accepted: ")
    assert PERSONNUMMER in error.reason
    assert "urn:other" in error.reason
    assert error.system == RESERVE


def test_national_systems_are_validated_even_if_listed_as_reserve() -> None:
    error = refusal(PERSONNUMMER, "RES-1", reserve_systems=frozenset({PERSONNUMMER}))
    assert "expected one of the forms" in error.reason


# --- PersonIdentifier --------------------------------------------------------------------


def test_person_identifier_is_frozen() -> None:
    identifier = PersonIdentifier(PERSONNUMMER, "191212121212")
    with pytest.raises(AttributeError):
        identifier.value = "x"  # type: ignore[misc]


def test_birth_date_is_none_when_not_derivable() -> None:
    assert PersonIdentifier(PERSONNUMMER, "garbage").birth_date is None
    assert PersonIdentifier(FODSELSNUMMER, "01014580049").birth_date is None
    assert PersonIdentifier("urn:x", "191212121212").birth_date is None


# --- generators --------------------------------------------------------------------------


def _sample_dates(start: datetime.date, count: int, step_days: int) -> list[datetime.date]:
    return [start + datetime.timedelta(days=i * step_days) for i in range(count)]


def test_make_personnummer_round_trips() -> None:
    assert make_personnummer(datetime.date(1912, 12, 12), 121) == "191212121212"
    assert make_personnummer(datetime.date(1912, 12, 12), 121, coordination=True) == (
        "191212721219"
    )
    for index, birth in enumerate(_sample_dates(datetime.date(1890, 1, 1), 300, 163)):
        serial = (index * 37) % 1000
        for coordination, system in ((False, PERSONNUMMER), (True, SAMORDNINGSNUMMER)):
            value = make_personnummer(birth, serial, coordination=coordination)
            result = normalize(system, value)
            assert result.value == value
            assert result.birth_date == birth


def test_make_personnummer_rejects_bad_serial() -> None:
    for serial in (-1, 1000):
        with pytest.raises(ValueError):
            make_personnummer(datetime.date(2000, 1, 1), serial)


def test_make_fodselsnummer_round_trips() -> None:
    assert make_fodselsnummer(datetime.date(1990, 1, 1), 124) == "01019012480"
    assert make_fodselsnummer(datetime.date(1990, 1, 1), 123) is None
    assert make_fodselsnummer(datetime.date(1890, 1, 1), 1) == "01019050188"
    assert make_fodselsnummer(datetime.date(2010, 1, 1), 0) == "01011050081"
    produced = refused = 0
    for index, birth in enumerate(_sample_dates(datetime.date(1855, 1, 1), 400, 151)):
        value = make_fodselsnummer(birth, (index * 7) % 250)
        if value is None:
            refused += 1
            continue
        produced += 1
        result = normalize(FODSELSNUMMER, value)
        assert result.value == value
        assert result.birth_date == birth
    assert produced > 300
    assert refused > 0


def test_make_fodselsnummer_rejects_unencodable_input() -> None:
    with pytest.raises(ValueError):
        make_fodselsnummer(datetime.date(1850, 1, 1), 0)
    with pytest.raises(ValueError):
        make_fodselsnummer(datetime.date(1890, 1, 1), 250)
