//! HTTP events: the sample events of AWS's documentation for each source,
//! the answers each source expects, and malformed events.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use http::{Method, Request, Response, StatusCode};
use lambda_sansio::http::{
    event_from_request, request_from_event, response_from_answer, response_to_event, split_stream_prelude,
    stream_prelude, EventShape, HttpEventError, HttpSource, PathOptions, PathParameters, RequestContext,
    StageVariables, SynthContext,
};
use serde_json::{json, Value};

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/http/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn read(name: &str) -> Request<Bytes> {
    request_from_event(&sample(name), &PathOptions::default())
        .unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn values(request: &Request<Bytes>, name: &str) -> Vec<String> {
    request
        .headers()
        .get_all(name)
        .iter()
        .map(|value| value.to_str().unwrap_or("<binary>").to_owned())
        .collect()
}

#[test]
fn a_rest_api_event_keeps_repeated_query_keys_and_multi_value_headers() {
    let request = read("rest-api");
    assert_eq!(request.method(), Method::GET);
    assert_eq!(request.uri(), "/my/path?parameter1=value1&parameter1=value2&parameter2=value");
    assert_eq!(values(&request, "header2"), ["value1", "value2"]);
    assert_eq!(request.body(), "Hello from Lambda!");
    assert_eq!(
        request.extensions().get(),
        Some(&EventShape { source: HttpSource::RestApi, multi_value: true })
    );
    let Some(RequestContext::RestApi(context)) = request.extensions().get::<RequestContext>() else {
        panic!("no REST API context: {:?}", request.extensions().get::<RequestContext>());
    };
    assert_eq!(context.identity.source_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(context.stage.as_deref(), Some("$default"));
    assert_eq!(request.extensions().get::<PathParameters>(), Some(&PathParameters::default()));
}

#[test]
fn an_http_api_event_turns_its_cookies_into_one_header_and_keeps_the_raw_query() {
    let request = read("http-api");
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.uri(), "/my/path?parameter1=value1&parameter1=value2&parameter2=value");
    assert_eq!(values(&request, COOKIE.as_str()), ["cookie1; cookie2"]);
    assert_eq!(values(&request, "header2"), ["value1,value2"]);
    assert_eq!(request.body(), "Hello from Lambda");
    assert_eq!(request.extensions().get::<EventShape>().map(|shape| shape.source), Some(HttpSource::HttpApi));
    let parameters = request.extensions().get::<PathParameters>().map(|p| p.0.get("parameter1").cloned());
    assert_eq!(parameters, Some(Some("value1".to_owned())));
    let stage = request.extensions().get::<StageVariables>().map(|v| v.0.get("stageVariable2").cloned());
    assert_eq!(stage, Some(Some("value2".to_owned())));
    let Some(RequestContext::HttpApi(context)) = request.extensions().get::<RequestContext>() else {
        panic!("no HTTP API context");
    };
    let claims = context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| jwt.claims.clone());
    assert_eq!(claims.and_then(|claims| claims.get("claim1").cloned()).as_deref(), Some("value1"));
}

#[test]
fn a_function_url_event_is_told_apart_by_its_domain() {
    let request = read("function-url");
    assert_eq!(
        request.extensions().get::<EventShape>().map(|shape| shape.source),
        Some(HttpSource::FunctionUrl)
    );
    assert_eq!(request.method(), Method::POST);
    assert_eq!(request.body(), "Hello from client!");
    assert_eq!(values(&request, COOKIE.as_str()), ["cookie1; cookie2"]);
}

#[test]
fn alb_events_keep_the_query_as_the_client_encoded_it() {
    let single = read("alb");
    assert_eq!(single.uri(), "/lambda?query=1234ABCD");
    assert_eq!(single.extensions().get(), Some(&EventShape { source: HttpSource::Alb, multi_value: false }));
    assert_eq!(values(&single, "x-forwarded-for"), ["72.12.164.125"]);
    assert!(single.body().is_empty());

    let multi = read("alb-multi-value");
    assert_eq!(multi.uri(), "/lambda?myKey=val1&myKey=val2&name=J%C3%BCrgen%20M%C3%BCller");
    assert_eq!(multi.extensions().get(), Some(&EventShape { source: HttpSource::Alb, multi_value: true }));
    assert_eq!(values(&multi, COOKIE.as_str()), ["name1=value1", "name2=value2"]);
}

fn answer(shape: EventShape, response: Response<Bytes>) -> Value {
    let encoded = response_to_event(shape, response);
    serde_json::from_slice(&encoded).unwrap_or_else(|error| panic!("not JSON ({error}): {encoded:?}"))
}

fn with_cookies(content_type: &str, body: &'static [u8]) -> Response<Bytes> {
    Response::builder()
        .status(StatusCode::CREATED)
        .header(CONTENT_TYPE, content_type)
        .header("x-kind", "a")
        .header("x-kind", "b")
        .header(SET_COOKIE, "session=1; Secure")
        .header(SET_COOKIE, "theme=dark")
        .body(Bytes::from_static(body))
        .unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn a_rest_api_answer_has_every_header_value_and_binary_bodies_in_base64() {
    let text =
        answer(EventShape::of(HttpSource::RestApi), with_cookies("text/html; charset=utf-8", b"<p>hi</p>"));
    assert_eq!(text["statusCode"], 201);
    assert_eq!(text["multiValueHeaders"]["set-cookie"], json!(["session=1; Secure", "theme=dark"]));
    assert_eq!(text["multiValueHeaders"]["x-kind"], json!(["a", "b"]));
    assert_eq!(text["body"], "<p>hi</p>");
    assert_eq!(text["isBase64Encoded"], false);

    let binary = answer(EventShape::of(HttpSource::RestApi), with_cookies("image/png", b"\x89PNG\r\n"));
    assert_eq!(binary["body"], "iVBORw0K");
    assert_eq!(binary["isBase64Encoded"], true);
}

#[test]
fn http_api_and_function_url_answers_carry_cookies_apart() {
    for source in [HttpSource::HttpApi, HttpSource::FunctionUrl] {
        let encoded = answer(EventShape::of(source), with_cookies("application/json", b"{\"a\":1}"));
        assert_eq!(encoded["cookies"], json!(["session=1; Secure", "theme=dark"]), "{source}");
        assert_eq!(encoded["headers"]["x-kind"], "a, b", "{source}");
        assert!(encoded["headers"].get("set-cookie").is_none(), "{source}: {encoded}");
        assert_eq!(encoded["body"], "{\"a\":1}", "{source}");
    }
}

#[test]
fn an_alb_answer_has_a_status_description_and_follows_the_target_groups_header_mode() {
    let single =
        answer(EventShape { source: HttpSource::Alb, multi_value: false }, with_cookies("text/plain", b"ok"));
    assert_eq!(single["statusDescription"], "201 Created");
    assert_eq!(single["headers"]["x-kind"], "a, b");
    assert_eq!(single["headers"]["set-cookie"], "theme=dark");
    let multi =
        answer(EventShape { source: HttpSource::Alb, multi_value: true }, with_cookies("text/plain", b"ok"));
    assert_eq!(multi["multiValueHeaders"]["set-cookie"], json!(["session=1; Secure", "theme=dark"]));
}

#[test]
fn a_streamed_answer_starts_with_its_prelude_and_eight_nul_bytes() {
    let (parts, _) = with_cookies("text/plain", b"").into_parts();
    let prelude = stream_prelude(&parts);
    assert!(prelude.ends_with(&[0; 8]));
    let mut stream = prelude.to_vec();
    stream.extend_from_slice(b"first chunk");
    let Ok(Some((head, used))) = split_stream_prelude(&stream) else {
        panic!("prelude not read back: {:?}", split_stream_prelude(&stream));
    };
    assert_eq!(head.status(), StatusCode::CREATED);
    assert_eq!(head.headers().get_all(SET_COOKIE).iter().count(), 2);
    assert_eq!(&stream[used..], b"first chunk");
    assert!(matches!(split_stream_prelude(&stream[..prelude.len() - 1]), Ok(None)));
}

fn error_of(event: &[u8]) -> HttpEventError {
    match request_from_event(event, &PathOptions::default()) {
        Ok(request) => panic!("{} was read as {request:?}", String::from_utf8_lossy(event)),
        Err(error) => error,
    }
}

#[test]
fn malformed_events_are_typed_errors_that_say_what_is_wrong() {
    assert!(matches!(error_of(b"{not json"), HttpEventError::NotJson(_)));
    let sqs = br#"{"Records":[{"messageId":"1","eventSource":"aws:sqs","body":"hi"}]}"#;
    assert_eq!(error_of(sqs), HttpEventError::NotHttp);
    assert_eq!(error_of(b"[1,2]"), HttpEventError::NotHttp);
    let future = br#"{"version":"3.0","rawPath":"/","requestContext":{"http":{"method":"GET"}}}"#;
    assert_eq!(error_of(future), HttpEventError::UnknownVersion("3.0".to_owned()));
    let socket =
        br#"{"requestContext":{"connectionId":"abc","routeKey":"$connect"},"isBase64Encoded":false}"#;
    assert_eq!(error_of(socket), HttpEventError::WebSocket);
    let no_path = br#"{"version":"2.0","requestContext":{"http":{"method":"GET"}}}"#;
    let error = error_of(no_path);
    assert!(matches!(error, HttpEventError::Malformed { origin: HttpSource::HttpApi, .. }), "{error}");
    assert!(error.to_string().contains("rawPath"), "{error}");
    let bad_method = br#"{"version":"1.0","path":"/","httpMethod":7,"requestContext":{}}"#;
    assert!(matches!(error_of(bad_method), HttpEventError::Malformed { origin: HttpSource::RestApi, .. }));
    let mut bad_base64: Value = serde_json::from_slice(&sample("http-api")).unwrap_or(Value::Null);
    bad_base64["isBase64Encoded"] = Value::Bool(true);
    bad_base64["body"] = Value::from("not base64!");
    assert_eq!(error_of(bad_base64.to_string().as_bytes()), HttpEventError::InvalidBase64);
}

#[test]
fn stages_and_base_paths_come_off_the_path_when_asked() {
    let mut event: Value = serde_json::from_slice(&sample("http-api")).unwrap_or(Value::Null);
    event["rawPath"] = Value::from("/dev/orders/7");
    event["requestContext"]["stage"] = Value::from("dev");
    let bytes = event.to_string().into_bytes();
    let kept =
        request_from_event(&bytes, &PathOptions::default()).map(|request| request.uri().path().to_owned());
    assert_eq!(kept.as_deref(), Ok("/dev/orders/7"));
    let options = PathOptions { strip_stage: true, remove_base_path: Some("/orders".to_owned()) };
    let stripped = request_from_event(&bytes, &options).map(|request| request.uri().path().to_owned());
    assert_eq!(stripped.as_deref(), Ok("/7"));
    let other = PathOptions { strip_stage: false, remove_base_path: Some("/ord".to_owned()) };
    let untouched = request_from_event(&bytes, &other).map(|request| request.uri().path().to_owned());
    assert_eq!(untouched.as_deref(), Ok("/dev/orders/7"), "a base path only matches whole segments");
}

#[test]
fn an_http_api_answer_that_is_not_a_response_object_is_a_json_body() {
    let shape = EventShape::of(HttpSource::HttpApi);
    let response =
        response_from_answer(shape, br#"{"hello":"world"}"#).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(response.body(), r#"{"hello":"world"}"#);
    let rest = response_from_answer(EventShape::of(HttpSource::RestApi), br#"{"hello":"world"}"#);
    assert!(matches!(rest, Err(HttpEventError::Malformed { .. })), "{rest:?}");
}

#[test]
fn a_synthesized_event_of_each_shape_is_read_back_by_its_own_detector() {
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/a/b?x=1")
        .header("host", "example.com")
        .body(Bytes::from_static(b"payload"))
        .unwrap_or_else(|error| panic!("{error}"));
    for source in HttpSource::ALL {
        let shape = EventShape::of(source);
        let event = event_from_request(shape, &request, &SynthContext::default());
        let value: Value = serde_json::from_slice(&event).unwrap_or(Value::Null);
        assert_eq!(EventShape::detect(&value), Ok(shape), "{source}: {value}");
    }
}
