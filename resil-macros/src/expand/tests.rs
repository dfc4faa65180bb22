//! The generated code, as text, for the stacks that matter.

use super::*;
use crate::errors::Errors;
use crate::parse::Kind;

fn expand_str(stack: &[(Kind, TokenStream)], func: TokenStream) -> String {
    let mut errors = Errors::default();
    let layers: Vec<_> = stack
        .iter()
        .map(|(kind, args)| Layer::parse(*kind, args.clone(), &mut errors))
        .collect();
    assert!(errors.is_empty());
    let func: ItemFn = syn::parse2(func).unwrap();
    let out = expand_with(func, &layers, true);
    // The output must be a valid function.
    syn::parse2::<ItemFn>(out.clone()).unwrap();
    out.to_string()
}

#[test]
fn full_stack() {
    let out = expand_str(
        &[
            (
                Kind::Retry,
                quote!(
                    max = 3,
                    backoff = exponential,
                    initial = 100ms,
                    jitter = full
                ),
            ),
            (
                Kind::CircuitBreaker,
                quote!(name = "osteon", threshold = 5, timeout = 60s),
            ),
            (
                Kind::Bulkhead,
                quote!(name = "osteon", max = 10, queue = 5, wait = 5s),
            ),
        ],
        quote! {
            async fn outline(client: &Client, req: OutlineRequest) -> Result<Outline, OsteonError> {
                client.outline(req).await
            }
        },
    );
    for expected in [
        "static __RESIL_RETRY_0 : :: resil :: __private :: RetrySite = :: resil :: __private :: RetrySite :: unnamed (:: core :: concat ! (:: core :: module_path ! () , \"::\" , \"outline\") , :: resil :: __private :: RetryConfig :: DEFAULT . max_attempts (3) . backoff (:: resil :: __private :: Backoff :: Exponential) . initial (:: core :: time :: Duration :: from_nanos (100000000)) . jitter (:: resil :: __private :: Jitter :: Full)) ;",
        "static __RESIL_CIRCUIT_BREAKER_1 : :: resil :: __private :: CircuitBreakerSite = :: resil :: __private :: CircuitBreakerSite :: new (\"osteon\" , :: resil :: __private :: CircuitBreakerConfig :: DEFAULT . threshold (5) . open_for (:: core :: time :: Duration :: from_nanos (60000000000))) ;",
        "static __RESIL_BULKHEAD_2 : :: resil :: __private :: BulkheadSite = :: resil :: __private :: BulkheadSite :: new (\"osteon\" , :: resil :: __private :: BulkheadConfig :: DEFAULT . max_concurrent (10) . queue (5) . wait (:: core :: time :: Duration :: from_nanos (5000000000))) ;",
        "let req = :: resil :: __private :: clone_arg (& req) ;",
        "let __resil_span : :: resil :: __private :: AttemptSpan = :: resil :: __private :: attempt_span (& [(\"retry\" , :: core :: concat ! (:: core :: module_path ! () , \"::\" , \"outline\")) , (\"circuit_breaker\" , \"osteon\") , (\"bulkhead\" , \"osteon\")] , __resil_run . attempt () , & :: resil :: __private :: NO_SPAN) ;",
        "let (__resil_attempt , __resil_rejection) = '__resil_scope_0 : { ({ let __resil_breaker_1 = __RESIL_CIRCUIT_BREAKER_1 . get () ;",
        "match match :: resil :: __private :: BreakerEntry :: try_enter (& * __resil_breaker_1) { :: core :: option :: Option :: Some (__resil_permit) => :: core :: result :: Result :: Ok (__resil_permit) , :: core :: option :: Option :: None => :: resil :: __private :: traced_by_ref (& __resil_span , :: core :: pin :: pin ! (:: resil :: __private :: BreakerEntry :: enter_slow (& * __resil_breaker_1))) . await , }",
        // A refusal jumps to the retry, past the breaker's settling.
        "let __resil_error = :: resil :: __private :: BreakerEntry :: refusal_error (& * __resil_breaker_1 , __resil_refusal) ;",
        "break '__resil_scope_0 (:: core :: result :: Result :: Err (:: resil :: __private :: convert ! (__resil_convert , __resil_error)) , __resil_rejection ,) ;",
        "let __resil_result = { let __resil_body = :: core :: pin :: pin ! (:: resil :: __private :: anchor :: < Result < Outline , OsteonError > , _ > (async { client . outline (req) . await })) ; match __resil_span { :: core :: option :: Option :: None => __resil_body . await , :: core :: option :: Option :: Some (__resil_span) => { :: resil :: __private :: traced (__resil_span , __resil_body) . await } } } ; :: core :: mem :: drop (__resil_slot) ;",
        ":: resil :: __private :: settle (__resil_permit , & __resil_result , :: resil :: __private :: never) ;",
        "match :: resil :: __private :: RetryStepping :: after_failure (& mut __resil_run , __resil_error , __resil_rejection , :: resil :: __private :: always ,",
        ":: core :: result :: Result :: Ok (__resil_value) => { :: resil :: __private :: RetryStepping :: succeeded (& __resil_run) ; break (:: core :: result :: Result :: Ok (__resil_value) , __resil_rejection) ; }",
        "let __resil_convert = :: resil :: __private :: error_converter (:: core :: marker :: PhantomData :: < Result < Outline , OsteonError > >) ;",
    ] {
        assert!(out.contains(expected), "missing\n{expected}\nin\n{out}");
    }
    assert!(!out.contains("clone_arg (& client)"), "{out}");
}

#[test]
fn without_spans_the_body_and_the_entries_are_awaited_bare() {
    let mut errors = Errors::default();
    let layers: Vec<_> = [
        (Kind::Retry, quote!(max = 3)),
        (Kind::CircuitBreaker, quote!()),
        (Kind::Bulkhead, quote!()),
    ]
    .iter()
    .map(|(kind, args)| Layer::parse(*kind, args.clone(), &mut errors))
    .collect();
    let func: ItemFn = syn::parse2(quote! {
        async fn f(x: u8) -> Result<u8, E> { Ok(x) }
    })
    .unwrap();
    let out = expand_with(func, &layers, false).to_string();
    for unexpected in ["span", "traced", "pin !"] {
        assert!(!out.contains(unexpected), "{unexpected} in\n{out}");
    }
    assert!(
        out.contains(
            ":: core :: option :: Option :: None => :: resil :: __private :: BreakerEntry :: enter_slow (& * __resil_breaker_1) . await"
        ),
        "{out}"
    );
    assert!(out.contains("(async { Ok (x) }) . await"), "{out}");
}

#[test]
fn no_retry_no_loop_no_clones() {
    let out = expand_str(
        &[(Kind::Bulkhead, quote!())],
        quote!(
            async fn f(req: Req) -> Result<(), E> {
                Ok(())
            }
        ),
    );
    assert!(!out.contains("loop"), "{out}");
    assert!(!out.contains("clone_arg"), "{out}");
    assert!(
        out.contains("let __resil_span : :: resil :: __private :: AttemptSpan = :: resil :: __private :: attempt_span (& [(\"bulkhead\" , :: core :: concat ! (:: core :: module_path ! () , \"::\" , \"f\"))] , 1u32 , & :: resil :: __private :: NO_SPAN) ; { let __resil_bulkhead_0 = __RESIL_BULKHEAD_0 . get () ;"),
        "{out}"
    );
    // Nothing above the bulkhead asks about refusals: one returns.
    assert!(
        out.contains("return :: core :: result :: Result :: Err (:: resil :: __private :: convert ! (__resil_convert , __resil_refusal)) ;"),
        "{out}"
    );
}

#[test]
fn clones_owned_bindings_only() {
    let out = expand_str(
        &[(Kind::Retry, quote!())],
        quote! {
            async fn f(
                &mut self,
                a: &str,
                mut b: String,
                (c, ref d): (u8, u8),
                Wrapper { inner: mut e }: Wrapper,
                f: impl Fn(),
                _: u8,
            ) -> Result<(), E> { Ok(()) }
        },
    );
    for expected in [
        "let mut b = :: resil :: __private :: clone_arg (& b)",
        "let c = :: resil :: __private :: clone_arg (& c)",
        "let mut e = :: resil :: __private :: clone_arg (& e)",
        // `mut` moved off the signature.
        "(& mut self , a : & str , b : String , (c , ref d) : (u8 , u8) , Wrapper { inner : e } : Wrapper",
    ] {
        assert!(out.contains(expected), "missing\n{expected}\nin\n{out}");
    }
    for unexpected in ["(& a)", "(& d)", "(& f)", "(& self)", "(& _)"] {
        assert!(
            !out.contains(unexpected),
            "unexpected {unexpected} in\n{out}"
        );
    }
}

#[test]
fn default_name_and_crate_override() {
    let out = expand_str(
        &[
            (Kind::CircuitBreaker, quote!(crate = "::renamed")),
            (Kind::Bulkhead, quote!()),
        ],
        quote!(
            pub(crate) async fn r#get() -> Result<(), E> {
                Ok(())
            }
        ),
    );
    assert!(out.contains("\"::\" , \"get\""), "{out}");
    assert!(!out.contains(":: resil ::"), "{out}");
    assert!(
        out.contains(":: renamed :: __private :: BulkheadSite"),
        "{out}"
    );
    assert!(out.starts_with("pub (crate) async fn r#get"), "{out}");
}

#[test]
fn impl_trait_return_skips_anchor() {
    let out = expand_str(
        &[(Kind::Retry, quote!())],
        quote!(
            async fn f() -> Result<impl Sized, E> {
                Ok(1)
            }
        ),
    );
    assert!(!out.contains("anchor"), "{out}");
    assert!(out.contains("pin ! (async { Ok (1) })"), "{out}");
    assert!(
        out.contains("PhantomData :: < Result < () , E > >"),
        "{out}"
    );
}

#[test]
fn nested_retries_and_inner_attrs() {
    let out = expand_str(
        &[
            (Kind::CircuitBreaker, quote!()),
            (Kind::Retry, quote!(retry_if = is_transient)),
            (Kind::Retry, quote!(max = 2)),
        ],
        quote!(
            #[doc = "x"]
            async fn f(x: u8) -> Result<(), E> {
                #![allow(unused)]
                Ok(())
            }
        ),
    );
    assert!(
        out.starts_with("# [doc = \"x\"] async fn f (x : u8)"),
        "{out}"
    );
    assert!(out.contains("{ # ! [allow (unused)] static"), "{out}");
    assert!(out.contains("__RESIL_RETRY_1"), "{out}");
    assert!(out.contains("__RESIL_RETRY_2"), "{out}");
    assert!(
        out.contains(
            "PhantomData :: < Result < () , E > >) ; { let __resil_breaker_0 = __RESIL_CIRCUIT_BREAKER_0 . get () ;"
        ),
        "{out}"
    );
    assert!(out.contains(", is_transient ,"), "{out}");
    assert_eq!(out.matches("loop").count(), 2, "{out}");
}

#[test]
fn new_layers_and_keys() {
    let out = expand_str(
        &[
            (Kind::Fallback, quote!(cached, on = rejections)),
            (Kind::Retry, quote!(max_elapsed = 10s, retry_after = hint)),
            (
                Kind::CircuitBreaker,
                quote!(window = 60s, slow_call = 2s, slow_rate = 0.5),
            ),
            (Kind::Timeout, quote!(2s)),
            (
                Kind::RateLimit,
                quote!(name = "sms", rate = 10, per = 1s, burst = 2, wait = 5ms),
            ),
        ],
        quote!(
            async fn f(&self, key: &str, req: Req) -> Result<u8, E> {
                Ok(1)
            }
        ),
    );
    for expected in [
        ". max_elapsed (:: core :: time :: Duration :: from_nanos (10000000000))",
        ". time_window (:: core :: time :: Duration :: from_nanos (60000000000)) . slow_call",
        ". slow_rate (0.5f64)",
        ":: resil :: __private :: TimeoutSite :: unnamed",
        ":: resil :: __private :: RateLimiterSite :: new (\"sms\" , :: resil :: __private :: \
         RateLimiterConfig :: DEFAULT . rate (10) . per",
        "let __resil_convert = :: resil :: __private :: error_converter (:: core :: marker :: PhantomData :: < Result < u8 , E > >) ;",
        ":: resil :: __private :: TimeoutEntry :: run (__RESIL_TIMEOUT_3 . get () , async { '__resil_scope_3 : {",
        "} , | __resil_e | :: resil :: __private :: convert ! (__resil_convert , __resil_e)) . await",
        // A refusal below the timeout comes out of it, and jumps on to
        // the retry.
        "if __resil_rejection . is_set () { break '__resil_scope_1 (__resil_outcome , __resil_rejection) ; }",
        "if let :: core :: result :: Result :: Err (__resil_refusal) = __RESIL_RATE_LIMIT_4 . get () . acquire () . await",
        "after_failure (& mut __resil_run , __resil_error , __resil_rejection , :: resil :: __private :: always , hint ,",
        "fallback_applies (__resil_rejection , true)",
        "fallback_future :: < Result < u8 , E > , _ > (cached (self , key , req , __resil_error)) . await",
    ] {
        assert!(out.contains(expected), "missing\n{expected}\nin\n{out}");
    }
    // The retry below the fallback keeps `req` intact: no extra copy.
    assert!(!out.contains("clone_fallback_arg"), "{out}");
}

#[test]
fn a_fallback_without_a_retry_below_copies_owned_arguments() {
    let out = expand_str(
        &[(Kind::Fallback, quote!(cached)), (Kind::Retry, quote!())],
        quote!(
            async fn f(key: &str, req: Req) -> Result<u8, E> {
                Ok(1)
            }
        ),
    );
    assert!(!out.contains("clone_fallback_arg"), "{out}");
    let out = expand_str(
        &[(Kind::Retry, quote!()), (Kind::Fallback, quote!(cached))],
        quote!(
            async fn f(key: &str, mut req: Req, f: impl Fn()) -> Result<u8, E> {
                Ok(1)
            }
        ),
    );
    assert!(
        out.contains(
            "let __resil_fallback_1 = :: resil :: __private :: clone_fallback_arg (& req) ;"
        ),
        "{out}"
    );
    assert!(
        out.contains("cached (key , __resil_fallback_1 , f , __resil_error)"),
        "{out}"
    );
    assert!(out.contains("error_converter"), "{out}");
}

#[test]
fn multiplier_and_rates_are_f64() {
    let out = expand_str(
        &[
            (Kind::Retry, quote!(multiplier = 3, retry_rejections = true)),
            (
                Kind::CircuitBreaker,
                quote!(failure_rate = 0.5, window = 20, min_calls = 4),
            ),
        ],
        quote!(
            async fn f() -> Result<(), E> {
                Ok(())
            }
        ),
    );
    assert!(
        out.contains(". multiplier (3f64) . retry_rejections (true)"),
        "{out}"
    );
    assert!(
        out.contains(". failure_rate (0.5f64) . window (20) . min_calls (4)"),
        "{out}"
    );
}
