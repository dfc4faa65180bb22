//! Duration values: `100ms`, `1.5s`, `2m`, or the same inside a string.

use std::time::Duration;

use proc_macro2::Span;
use syn::{Expr, Lit};

use super::expr::{peel, what};

/// The units a duration accepts, as the error messages list them.
pub(super) const UNITS: &str = "ns, us, ms, s, m, h";

/// Parses the value of duration key `key`.
pub(super) fn parse(key: &str, value: &Expr) -> syn::Result<Duration> {
    match peel(value) {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Int(int) => from_parts(int.base10_digits(), int.suffix(), int.span()),
            Lit::Float(float) => from_parts(float.base10_digits(), float.suffix(), float.span()),
            Lit::Str(text) => {
                let content = text.value();
                let (number, unit) = split_number(content.trim());
                if number.is_empty() {
                    return Err(syn::Error::new(
                        text.span(),
                        format!(
                            "expected a duration like `100ms` or `5s` for `{key}`, found {content:?}"
                        ),
                    ));
                }
                from_parts(&number.replace('_', ""), unit.trim(), text.span())
            }
            _ => Err(expected(key, value)),
        },
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => Err(syn::Error::new_spanned(
            value,
            format!("`{key}` cannot be negative"),
        )),
        _ => Err(expected(key, value)),
    }
}

fn expected(key: &str, value: &Expr) -> syn::Error {
    syn::Error::new_spanned(
        value,
        format!(
            "expected a duration like `100ms` or `5s` for `{key}`, found {}",
            what(value)
        ),
    )
}

/// Splits `"1.5e3ms"` into `("1.5e3", "ms")`.
fn split_number(text: &str) -> (&str, &str) {
    let bytes = text.as_bytes();
    let mut end = 0;
    while end < bytes.len() && (bytes[end].is_ascii_digit() || matches!(bytes[end], b'.' | b'_')) {
        end += 1;
    }
    // An exponent only when digits follow: `1e3s` but not a unit starting with `e`.
    if end > 0 && matches!(bytes.get(end), Some(b'e' | b'E')) {
        let mut exp = end + 1;
        if matches!(bytes.get(exp), Some(b'+' | b'-')) {
            exp += 1;
        }
        if bytes.get(exp).is_some_and(u8::is_ascii_digit) {
            while bytes.get(exp).is_some_and(u8::is_ascii_digit) {
                exp += 1;
            }
            end = exp;
        }
    }
    text.split_at(end)
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// `digits` is a decimal number as syn normalises it (`1.5`, `1e3`, `2.5e-1`).
fn from_parts(digits: &str, unit: &str, span: Span) -> syn::Result<Duration> {
    if unit.is_empty() {
        return Err(syn::Error::new(
            span,
            format!("duration needs a unit: write `{digits}s` or `{digits}ms` (units: {UNITS})"),
        ));
    }
    let Some(scale) = unit_nanos(unit) else {
        return Err(syn::Error::new(
            span,
            format!("unknown duration unit `{unit}`; expected one of: {UNITS}"),
        ));
    };
    match exact_nanos(digits, scale) {
        Ok(nanos) => Ok(Duration::from_nanos(nanos)),
        Err(Inexact::TooLarge) => Err(syn::Error::new(
            span,
            "duration is too large: at most 584 years (u64 nanoseconds)",
        )),
        Err(Inexact::Fraction) => Err(syn::Error::new(
            span,
            format!("`{digits}{unit}` is not a whole number of nanoseconds"),
        )),
    }
}

#[derive(Debug, PartialEq)]
enum Inexact {
    TooLarge,
    Fraction,
}

/// Computes `digits * scale` exactly, without going through `f64`.
fn exact_nanos(digits: &str, scale: u128) -> Result<u64, Inexact> {
    let (mantissa, exponent) = match digits.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let exponent: i32 = exponent.parse().map_err(|_| Inexact::TooLarge)?;
            (mantissa, exponent)
        }
        None => (digits, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let fraction = fraction.trim_end_matches('0');
    let all_digits = format!("{whole}{fraction}");
    let all_digits = all_digits.trim_start_matches('0');
    if all_digits.is_empty() {
        return Ok(0);
    }
    let significand: u128 = all_digits.parse().map_err(|_| Inexact::TooLarge)?;
    let exponent = i64::from(exponent) - fraction.len() as i64;
    let mut nanos = significand.checked_mul(scale).ok_or(Inexact::TooLarge)?;
    if exponent >= 0 {
        let factor = u32::try_from(exponent)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
            .ok_or(Inexact::TooLarge)?;
        nanos = nanos.checked_mul(factor).ok_or(Inexact::TooLarge)?;
    } else {
        let divisor = u32::try_from(-exponent)
            .ok()
            .and_then(|e| 10u128.checked_pow(e))
            .ok_or(Inexact::Fraction)?;
        if nanos % divisor != 0 {
            return Err(Inexact::Fraction);
        }
        nanos /= divisor;
    }
    u64::try_from(nanos).map_err(|_| Inexact::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(tokens: proc_macro2::TokenStream) -> Result<Duration, String> {
        let expr: Expr = syn::parse2(tokens).unwrap();
        parse("timeout", &expr).map_err(|e| e.to_string())
    }

    #[test]
    fn units() {
        use quote::quote;
        assert_eq!(dur(quote!(10ns)), Ok(Duration::from_nanos(10)));
        assert_eq!(dur(quote!(250us)), Ok(Duration::from_micros(250)));
        assert_eq!(dur(quote!(100ms)), Ok(Duration::from_millis(100)));
        assert_eq!(dur(quote!(5s)), Ok(Duration::from_secs(5)));
        assert_eq!(dur(quote!(2m)), Ok(Duration::from_secs(120)));
        assert_eq!(dur(quote!(1h)), Ok(Duration::from_secs(3600)));
        assert_eq!(dur(quote!(1_000ms)), Ok(Duration::from_secs(1)));
        assert_eq!(dur(quote!(0s)), Ok(Duration::ZERO));
    }

    #[test]
    fn fractions_and_exponents() {
        use quote::quote;
        assert_eq!(dur(quote!(1.5s)), Ok(Duration::from_millis(1500)));
        assert_eq!(dur(quote!(0.1s)), Ok(Duration::from_millis(100)));
        assert_eq!(dur(quote!(2.5m)), Ok(Duration::from_secs(150)));
        assert_eq!(dur(quote!(1e3ms)), Ok(Duration::from_secs(1)));
        assert_eq!(dur(quote!(1.5e-3s)), Ok(Duration::from_micros(1500)));
        assert_eq!(
            dur(quote!(1.5ns)),
            Err("`1.5ns` is not a whole number of nanoseconds".into())
        );
    }

    #[test]
    fn strings() {
        use quote::quote;
        assert_eq!(dur(quote!("100ms")), Ok(Duration::from_millis(100)));
        assert_eq!(dur(quote!("1.5s")), Ok(Duration::from_millis(1500)));
        assert_eq!(dur(quote!(" 2 m ")), Ok(Duration::from_secs(120)));
        assert_eq!(dur(quote!("1e3ms")), Ok(Duration::from_secs(1)));
        assert!(
            dur(quote!("60"))
                .unwrap_err()
                .starts_with("duration needs a unit")
        );
        assert_eq!(
            dur(quote!("soon")),
            Err("expected a duration like `100ms` or `5s` for `timeout`, found \"soon\"".into())
        );
    }

    #[test]
    fn errors() {
        use quote::quote;
        assert_eq!(
            dur(quote!(60)),
            Err("duration needs a unit: write `60s` or `60ms` (units: ns, us, ms, s, m, h)".into())
        );
        assert_eq!(
            dur(quote!(1.5)),
            Err(
                "duration needs a unit: write `1.5s` or `1.5ms` (units: ns, us, ms, s, m, h)"
                    .into()
            )
        );
        assert_eq!(
            dur(quote!(5sec)),
            Err("unknown duration unit `sec`; expected one of: ns, us, ms, s, m, h".into())
        );
        assert_eq!(dur(quote!(-5s)), Err("`timeout` cannot be negative".into()));
        assert_eq!(
            dur(quote!(true)),
            Err("expected a duration like `100ms` or `5s` for `timeout`, found `true`".into())
        );
        assert_eq!(
            dur(quote!(100000000000h)),
            Err("duration is too large: at most 584 years (u64 nanoseconds)".into())
        );
    }

    #[test]
    fn exact_arithmetic() {
        assert_eq!(exact_nanos("0.000", 1), Ok(0));
        assert_eq!(exact_nanos("18446744073709551615", 1), Ok(u64::MAX));
        assert_eq!(
            exact_nanos("18446744073709551616", 1),
            Err(Inexact::TooLarge)
        );
        assert_eq!(exact_nanos("1e-40", 1), Err(Inexact::Fraction));
        assert_eq!(exact_nanos("1e40", 1), Err(Inexact::TooLarge));
        assert_eq!(exact_nanos("123456789e-9", 1_000_000_000), Ok(123_456_789));
    }
}
