//! An S3 notification handler on the blocking transport: it lists the
//! objects each notification names, with their keys URL-decoded as S3
//! sends them encoded (`my+photo%281%29.jpg` is `my photo(1).jpg`).
//!
//! ```text
//! cargo build -p lambda-sansio-blocking --example s3_notification
//! ```

use aws_lambda_events::s3::S3Event;
use lambda_sansio_blocking::{json, run, Context, HandlerError};

#[derive(serde::Serialize)]
struct Object {
    event: String,
    bucket: String,
    key: String,
    size: i64,
}

/// Decodes an S3 event key: `+` is a space, `%XX` a byte.
fn decode_key(key: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', high, low]) => hex(*high).zip(hex(*low)).map(|(h, l)| (h * 16 + l) as u8),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, other) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(event: S3Event, _: &Context) -> Result<Vec<Object>, HandlerError> {
    let objects = event
        .records
        .iter()
        .map(|record| Object {
            event: record.event_name.clone().unwrap_or_default(),
            bucket: record.s3.bucket.name.clone().unwrap_or_default(),
            key: decode_key(record.s3.object.key.as_deref().unwrap_or_default()),
            size: record.s3.object.size.unwrap_or_default(),
        })
        .collect();
    Ok(objects)
}

fn main() -> std::process::ExitCode {
    match run(json(handle)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("s3_notification: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
