//! An SQS batch handler on the blocking transport that reports partial
//! failures: messages it cannot process are listed in `batchItemFailures`,
//! so SQS retries only those (the event source mapping needs
//! `ReportBatchItemFailures`). A message is processed when its body is a
//! JSON order with a non-negative `quantity`.
//!
//! ```text
//! cargo build -p lambda-sansio-blocking --example sqs_partial_batch
//! cargo run -p lambda-sansio-emulator -- \
//!     --bootstrap target/debug/examples/sqs_partial_batch --invoke '{"Records":[{"messageId":"m1","body":"{\"quantity\":2}"}]}'
//! ```

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_sansio_blocking::{json, run, Context, HandlerError};

#[derive(serde::Deserialize)]
struct Order {
    quantity: i64,
}

fn process(message: &SqsMessage) -> Result<(), String> {
    let body = message.body.as_deref().ok_or("the message has no body")?;
    let order: Order = serde_json::from_str(body).map_err(|e| format!("not an order: {e}"))?;
    if order.quantity < 0 {
        return Err(format!("negative quantity {}", order.quantity));
    }
    Ok(())
}

fn handle(event: SqsEvent, _: &Context) -> Result<SqsBatchResponse, HandlerError> {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Err(reason) = process(message) {
            let id = message.message_id.clone().unwrap_or_default();
            eprintln!("message {id} failed: {reason}");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

fn main() -> std::process::ExitCode {
    match run(json(handle)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sqs_partial_batch: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
