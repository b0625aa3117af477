//! RFC 8785's published examples, through `canonical_json`: the crate's JCS is what a customer's
//! verifier must reproduce byte for byte.
//!
//! Sources: RFC 8785 §3.2.2 (the sample with numbers, escapes and literals), §3.2.3 (sorting by
//! UTF-16 code units), Appendix B (number serialisation, IEEE 754 bits to text); and the RFC
//! author's test data, cyberphone/json-canonicalization `testdata/{input,output}/weird.json` at
//! 77917fbd5d923bca23a9b5eb8851deec918016bf.

use audit_tlog::canonical_json;
use serde_json::{Number, Value};

fn canonical(input: &str) -> String {
    let value: Value = serde_json::from_str(input).unwrap();
    String::from_utf8(canonical_json(&value).unwrap()).unwrap()
}

#[test]
fn the_rfc_sample_section_3_2_2() {
    let input = r#"{
        "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
        "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
        "literals": [null, true, false]
    }"#;
    let expected = concat!(
        r#"{"literals":[null,true,false],"#,
        r#""numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"#,
        "\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
    );
    assert_eq!(canonical(input), expected);
}

#[test]
fn keys_sort_by_utf16_code_units_section_3_2_3() {
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB33 in UTF-16 although its
    // code point is larger; sorting by code points or UTF-8 bytes would put it last.
    let input = r#"{
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\ud83d\ude00": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let expected = concat!(
        "{\"\\r\":\"Carriage Return\",",
        "\"1\":\"One\",",
        "\"\u{80}\":\"Control\",",
        "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",",
        "\"\u{20ac}\":\"Euro Sign\",",
        "\"\u{1f600}\":\"Emoji: Grinning Face\",",
        "\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
    assert_eq!(canonical(input), expected);
}

#[test]
fn only_controls_quotes_and_backslashes_are_escaped() {
    // cyberphone's weird.json: U+007F and U+0080 stay raw, `</script>` and `/` are not escaped.
    let input = r#"{
        "\u20ac": "Euro Sign",
        "1": "One",
        "\u0080": "Control\u007f",
        "\ud83d\ude02": "Smiley",
        "\u00f6": "Latin Small Letter O With Diaeresis",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "</script>": "Browser Challenge"
    }"#;
    let expected = concat!(
        "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",",
        "\"\u{80}\":\"Control\u{7f}\",",
        "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",",
        "\"\u{20ac}\":\"Euro Sign\",",
        "\"\u{1f602}\":\"Smiley\",",
        "\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
    assert_eq!(canonical(input), expected);
}

#[test]
fn short_escapes_and_lowercase_hex_for_other_controls() {
    assert_eq!(
        canonical(r#""\b\f\n\r\t\u0000\u001f\u0007""#),
        r#""\b\f\n\r\t\u0000\u001f\u0007""#
    );
}

#[test]
fn numbers_as_appendix_b_serialises_them() {
    // (IEEE 754 bits, JCS text). NaN and Infinity are not JSON, so they have no `Value` to test.
    let cases: [(u64, &str); 24] = [
        (0x0000_0000_0000_0000, "0"),
        (0x8000_0000_0000_0000, "0"),
        (0x0000_0000_0000_0001, "5e-324"),
        (0x8000_0000_0000_0001, "-5e-324"),
        (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
        (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
        (0x4340_0000_0000_0000, "9007199254740992"),
        (0xc340_0000_0000_0000, "-9007199254740992"),
        (0x4430_0000_0000_0000, "295147905179352830000"),
        (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
        (0x44b5_2d02_c7e1_4af6, "1e+23"),
        (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
        (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
        (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
        (0x444b_1ae4_d6e2_ef50, "1e+21"),
        (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
        (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
        (0x41b3_de43_5555_5553, "333333333.3333332"),
        (0x41b3_de43_5555_5554, "333333333.33333325"),
        (0x41b3_de43_5555_5555, "333333333.3333333"),
        (0x41b3_de43_5555_5556, "333333333.3333334"),
        (0x41b3_de43_5555_5557, "333333333.33333343"),
        (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
        (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
    ];
    for (bits, expected) in cases {
        let number = Number::from_f64(f64::from_bits(bits)).unwrap();
        let text = canonical_json(&Value::Number(number)).unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), expected, "{bits:#018x}");
    }
    assert!(Number::from_f64(f64::from_bits(0x7fff_ffff_ffff_ffff)).is_none());
    assert!(Number::from_f64(f64::from_bits(0x7ff0_0000_0000_0000)).is_none());
}

#[test]
fn parsed_decimals_round_trip_to_the_same_double() {
    // The float_roundtrip parse that serde_jcs turns on: 0.1 + 0.2's double, written out in
    // full, must parse back to exactly that double, or the leaf would differ from a client's.
    assert_eq!(canonical("0.30000000000000004"), "0.30000000000000004");
    assert_eq!(canonical("[1.5e300, 1E-7, 100]"), "[1.5e+300,1e-7,100]");
}
