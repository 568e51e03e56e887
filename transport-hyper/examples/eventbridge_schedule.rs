//! An EventBridge scheduled handler on the async transport (a scheduled job
//! usually calls other services, which async clients do best): it reports
//! which rule fired and when.
//!
//! ```text
//! cargo build -p lambda-sansio-hyper --example eventbridge_schedule
//! ```

use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_sansio_hyper::{json, run, Context, HandlerError};

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Ran {
    rule: String,
    scheduled_at: String,
    request_id: String,
}

async fn handle(event: EventBridgeEvent, context: Context) -> Result<Ran, HandlerError> {
    if event.detail_type != "Scheduled Event" {
        return Err(HandlerError::new(
            "Schedule.UnexpectedEvent",
            format!("not a schedule: {}", event.detail_type),
        ));
    }
    let rule = event.resources.unwrap_or_default().into_iter().next().unwrap_or_default();
    let scheduled_at = event.time.map(|t| t.to_rfc3339()).unwrap_or_default();
    Ok(Ran { rule, scheduled_at, request_id: context.request_id.to_string() })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    match run(json(handle)).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("eventbridge_schedule: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
