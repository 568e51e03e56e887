//! One protocol cycle: decode a `next` answer, build the response request,
//! accept the `202`. Payload sizes of 1 KiB and 1 MiB show whether the payload
//! is copied (it must not be: both should cost the same). `bytes` starts
//! from the bytes on the wire: the `202` and the `next` answer as Lambda
//! writes them, through the HTTP/1.1 decoder.

#![allow(missing_docs, clippy::unwrap_used)]

use bytes::Bytes;
use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use lambda_sansio::http1::{Limits, ResponseDecoder};
use lambda_sansio::runtime::{requests, Invocation, RuntimeConfig, RuntimeEvent, RuntimeMachine};
use lambda_sansio::ApiAddress;

fn next_answer(payload: &Bytes) -> http::Response<Bytes> {
    http::Response::builder()
        .header("lambda-runtime-aws-request-id", "8476a536-e9f4-11e8-9739-2dfe598c3fcd")
        .header("lambda-runtime-deadline-ms", "1542409706888")
        .header(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-2:123456789012:function:custom-runtime",
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
        )
        .header("lambda-runtime-invocation-id", "5e0b8c1b-2b8c-4b8e-9d5e-0f0a1b2c3d4e")
        .body(payload.clone())
        .unwrap()
}

/// The `202` to an answer and the `next` answer behind it, as Lambda's
/// Runtime API writes them.
fn on_the_wire(payload: &Bytes) -> BytesMut {
    let mut wire = BytesMut::from(
        &b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nDate: Sat, 05 Dec 2026 17:00:00 GMT\r\n\
           Content-Length: 16\r\n\r\n{\"status\":\"OK\"}\n"[..],
    );
    wire.extend_from_slice(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
          Lambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n\
          Lambda-Runtime-Deadline-Ms: 1542409706888\r\n\
          Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:custom-runtime\r\n\
          Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\r\n\
          Date: Sat, 05 Dec 2026 17:00:00 GMT\r\n",
    );
    wire.extend_from_slice(format!("Content-Length: {}\r\n\r\n", payload.len()).as_bytes());
    wire.extend_from_slice(payload);
    wire
}

fn cycle(c: &mut Criterion) {
    let address = ApiAddress::parse("127.0.0.1:9001").unwrap();
    let accepted =
        http::Response::builder().status(202).body(Bytes::from_static(b"{\"status\":\"OK\"}")).unwrap();
    let mut group = c.benchmark_group("cycle");
    for (label, size) in [("1KiB", 1024usize), ("1MiB", 1024 * 1024)] {
        let payload = Bytes::from(vec![b'x'; size]);
        group.throughput(Throughput::Elements(1));

        group.bench_with_input(BenchmarkId::new("machine", label), &payload, |b, payload| {
            let mut machine = RuntimeMachine::new(RuntimeConfig::new(address.clone()));
            b.iter_batched(
                || (next_answer(payload), accepted.clone()),
                |(next, accepted)| {
                    let poll = machine.poll_request().unwrap();
                    machine.handle_response(poll.token, next).unwrap();
                    let Some(RuntimeEvent::Invoke(invocation)) = machine.poll_event() else { unreachable!() };
                    machine.respond(&invocation.request_id, invocation.payload).unwrap();
                    let answer = machine.poll_request().unwrap();
                    machine.handle_response(answer.token, accepted).unwrap();
                    machine.poll_event();
                    answer.request
                },
                BatchSize::SmallInput,
            );
        });

        group.bench_with_input(BenchmarkId::new("wire", label), &payload, |b, payload| {
            b.iter_batched(
                || next_answer(payload),
                |next| {
                    let invocation = Invocation::decode(&next).unwrap();
                    requests::response(
                        &address,
                        &invocation.request_id,
                        invocation.invocation_id.as_ref(),
                        invocation.payload,
                        None,
                    )
                    .unwrap()
                },
                BatchSize::SmallInput,
            );
        });

        group.bench_with_input(BenchmarkId::new("bytes", label), &payload, |b, payload| {
            let limits = Limits::with_max_body(8 * 1024 * 1024);
            b.iter_batched(
                || on_the_wire(payload),
                |mut wire| {
                    let accepted = ResponseDecoder::new(limits).decode(&mut wire).unwrap().unwrap();
                    let next = ResponseDecoder::new(limits).decode(&mut wire).unwrap().unwrap();
                    let invocation = Invocation::decode(&next.response).unwrap();
                    (accepted.response, invocation)
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, cycle);
criterion_main!(benches);
