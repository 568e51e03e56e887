//! Telemetry API (and legacy Logs API) subscriptions.

use std::ops::RangeInclusive;

use bytes::Bytes;
use http::{Method, Request};
use serde::{Deserialize, Serialize};

use crate::address::ApiAddress;
use crate::headers;
use crate::ids::ExtensionId;
use crate::wire::{json_request, BuildError};

/// Which API a subscription goes to. They are exclusive: an extension uses one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SubscriptionApi {
    /// `PUT /2022-07-01/telemetry`.
    #[default]
    Telemetry,
    /// `PUT /2020-08-15/logs`, the legacy Logs API.
    Logs,
}

impl SubscriptionApi {
    /// The API path.
    pub fn path(self) -> &'static str {
        match self {
            Self::Telemetry => "/2022-07-01/telemetry",
            Self::Logs => "/2020-08-15/logs",
        }
    }
}

/// A category of records to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordCategory {
    /// `platform.*` records.
    Platform,
    /// The function's output.
    Function,
    /// The extensions' output.
    Extension,
}

/// How the platform batches records before delivering them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Buffering {
    /// Records per batch, 1,000 to 10,000.
    pub max_items: u32,
    /// Bytes per batch, 262,144 to 1,048,576.
    pub max_bytes: u32,
    /// Longest wait before a batch is sent, 25 to 30,000 ms.
    pub timeout_ms: u32,
}

impl Buffering {
    /// Allowed `max_items`.
    pub const MAX_ITEMS: RangeInclusive<u32> = 1_000..=10_000;
    /// Allowed `max_bytes`.
    pub const MAX_BYTES: RangeInclusive<u32> = 262_144..=1_048_576;
    /// Allowed `timeout_ms`.
    pub const TIMEOUT_MS: RangeInclusive<u32> = 25..=30_000;
}

impl Default for Buffering {
    /// The platform's defaults: 10,000 items, 256 KiB, 1,000 ms.
    fn default() -> Self {
        Self { max_items: 10_000, max_bytes: 262_144, timeout_ms: 1_000 }
    }
}

/// A subscription that the platform would refuse with `400 ValidationError`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SubscriptionError {
    /// A buffering value is outside its range.
    #[error("buffering {field} = {value} is outside {min}..={max}")]
    Buffering {
        /// `maxItems`, `maxBytes` or `timeoutMs`.
        field: &'static str,
        /// The value given.
        value: u32,
        /// Lowest allowed.
        min: u32,
        /// Highest allowed.
        max: u32,
    },
    /// No record category was asked for.
    #[error("a subscription needs at least one record type")]
    NoTypes,
    /// The destination is not an `http://` URI.
    #[error("destination {0:?} is not an http:// URI")]
    Destination(String),
    /// The schema version is not one the API knows.
    #[error("unknown schema version {0:?}")]
    SchemaVersion(String),
    /// The body is not a subscription.
    #[error("malformed subscription: {0}")]
    Malformed(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IncomingBody {
    schema_version: String,
    types: Vec<RecordCategory>,
    #[serde(default)]
    buffering: Option<Buffering>,
    destination: IncomingDestination,
}

#[derive(Deserialize)]
struct IncomingDestination {
    protocol: String,
    #[serde(rename = "URI")]
    uri: String,
}

/// A Telemetry or Logs API subscription, validated at construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscription {
    api: SubscriptionApi,
    schema_version: String,
    types: Vec<RecordCategory>,
    buffering: Buffering,
    destination: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    schema_version: &'a str,
    types: &'a [RecordCategory],
    buffering: &'a Buffering,
    destination: Destination<'a>,
}

#[derive(Serialize)]
struct Destination<'a> {
    protocol: &'static str,
    #[serde(rename = "URI")]
    uri: &'a str,
}

impl Subscription {
    /// The newest Telemetry API schema.
    pub const TELEMETRY_SCHEMA: &'static str = "2022-12-13";
    /// The Logs API schema.
    pub const LOGS_SCHEMA: &'static str = "2021-03-18";
    /// The only Telemetry API schema Lambda Managed Instances accept.
    pub const MANAGED_INSTANCES_SCHEMA: &'static str = "2025-01-29";
    /// The destination host Lambda Managed Instances require.
    pub const SANDBOX_HOST: &'static str = "sandbox.localdomain";

    /// A subscription of `types` delivered to `destination`
    /// (`http://sandbox.localdomain:PORT/path` on Lambda) with `buffering`.
    pub fn new(
        api: SubscriptionApi,
        types: &[RecordCategory],
        buffering: Buffering,
        destination: &str,
    ) -> Result<Self, SubscriptionError> {
        for (field, value, range) in [
            ("maxItems", buffering.max_items, Buffering::MAX_ITEMS),
            ("maxBytes", buffering.max_bytes, Buffering::MAX_BYTES),
            ("timeoutMs", buffering.timeout_ms, Buffering::TIMEOUT_MS),
        ] {
            if !range.contains(&value) {
                return Err(SubscriptionError::Buffering {
                    field,
                    value,
                    min: *range.start(),
                    max: *range.end(),
                });
            }
        }
        if types.is_empty() {
            return Err(SubscriptionError::NoTypes);
        }
        let valid = destination
            .parse::<http::Uri>()
            .is_ok_and(|uri| uri.scheme_str() == Some("http") && uri.authority().is_some());
        if !valid {
            return Err(SubscriptionError::Destination(destination.to_owned()));
        }
        let schema_version = match api {
            SubscriptionApi::Telemetry => Self::TELEMETRY_SCHEMA,
            SubscriptionApi::Logs => Self::LOGS_SCHEMA,
        };
        let mut types = types.to_vec();
        types.dedup();
        Ok(Self {
            api,
            schema_version: schema_version.to_owned(),
            types,
            buffering,
            destination: destination.to_owned(),
        })
    }

    /// Schema versions the platform accepts for `api`.
    pub fn schema_versions(api: SubscriptionApi) -> &'static [&'static str] {
        match api {
            SubscriptionApi::Telemetry => &["2022-07-01", "2022-12-13", "2025-01-29"],
            SubscriptionApi::Logs => &["2020-08-15", "2021-03-18"],
        }
    }

    /// Reads a subscription body as the platform does: every rule of
    /// [`new`](Self::new), a known schema version, protocol `HTTP`.
    pub fn decode(api: SubscriptionApi, body: &[u8]) -> Result<Self, SubscriptionError> {
        let incoming: IncomingBody =
            serde_json::from_slice(body).map_err(|e| SubscriptionError::Malformed(e.to_string()))?;
        if !Self::schema_versions(api).contains(&incoming.schema_version.as_str()) {
            return Err(SubscriptionError::SchemaVersion(incoming.schema_version));
        }
        if incoming.destination.protocol != "HTTP" {
            return Err(SubscriptionError::Destination(incoming.destination.uri));
        }
        let buffering = incoming.buffering.unwrap_or_default();
        Ok(Self::new(api, &incoming.types, buffering, &incoming.destination.uri)?
            .with_schema_version(incoming.schema_version))
    }

    /// The record categories asked for.
    pub fn types(&self) -> &[RecordCategory] {
        &self.types
    }

    /// The buffering settings.
    pub fn buffering(&self) -> Buffering {
        self.buffering
    }

    /// Where batches are delivered.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// The schema version.
    pub fn schema_version(&self) -> &str {
        &self.schema_version
    }

    /// Uses another schema version (`2022-07-01`, `2022-12-13`, `2025-01-29`…).
    pub fn with_schema_version(mut self, version: impl Into<String>) -> Self {
        self.schema_version = version.into();
        self
    }

    /// The API it goes to.
    pub fn api(&self) -> SubscriptionApi {
        self.api
    }

    /// The JSON body.
    pub fn to_body(&self) -> Bytes {
        crate::exchange::json_body(&Body {
            schema_version: &self.schema_version,
            types: &self.types,
            buffering: &self.buffering,
            destination: Destination { protocol: "HTTP", uri: &self.destination },
        })
    }

    /// `PUT /2022-07-01/telemetry` (or `/2020-08-15/logs`) for extension `id`.
    pub fn request(&self, address: &ApiAddress, id: &ExtensionId) -> Result<Request<Bytes>, BuildError> {
        let mut request = json_request(address, Method::PUT, self.api.path(), self.to_body())?;
        request.headers_mut().insert(headers::EXTENSION_IDENTIFIER, id.header_value().clone());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_documented_shape() {
        let sub = Subscription::new(
            SubscriptionApi::Telemetry,
            &[RecordCategory::Platform, RecordCategory::Function],
            Buffering::default(),
            "http://sandbox.localdomain:4243/t",
        )
        .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&sub.to_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "schemaVersion": "2022-12-13",
                "types": ["platform", "function"],
                "buffering": {"maxItems": 10000, "maxBytes": 262144, "timeoutMs": 1000},
                "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/t"}
            })
        );
    }

    #[test]
    fn decode_reads_what_new_writes_and_refuses_the_rest() {
        let sub = Subscription::new(
            SubscriptionApi::Telemetry,
            &[RecordCategory::Extension],
            Buffering { max_items: 1_000, max_bytes: 262_144, timeout_ms: 25 },
            "http://sandbox.localdomain:1/x",
        )
        .unwrap();
        assert_eq!(Subscription::decode(SubscriptionApi::Telemetry, &sub.to_body()), Ok(sub.clone()));
        assert!(matches!(
            Subscription::decode(SubscriptionApi::Logs, &sub.to_body()),
            Err(SubscriptionError::SchemaVersion(_))
        ));
        let tcp = br#"{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"TCP","URI":"http://h:1"}}"#;
        assert!(matches!(
            Subscription::decode(SubscriptionApi::Telemetry, tcp),
            Err(SubscriptionError::Destination(_))
        ));
        let unknown_type = br#"{"schemaVersion":"2022-12-13","types":["kernel"],"destination":{"protocol":"HTTP","URI":"http://h:1"}}"#;
        assert!(matches!(
            Subscription::decode(SubscriptionApi::Telemetry, unknown_type),
            Err(SubscriptionError::Malformed(_))
        ));
        let no_buffering = br#"{"schemaVersion":"2025-01-29","types":["function"],"destination":{"protocol":"HTTP","URI":"http://h:1/"}}"#;
        let decoded = Subscription::decode(SubscriptionApi::Telemetry, no_buffering).unwrap();
        assert_eq!(decoded.buffering(), Buffering::default());
        assert_eq!(decoded.schema_version(), "2025-01-29");
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let new = |buffering, types: &[RecordCategory], uri| {
            Subscription::new(SubscriptionApi::Logs, types, buffering, uri)
        };
        let all = [RecordCategory::Platform];
        let ok = Buffering::default();
        assert!(matches!(
            new(Buffering { max_items: 999, ..ok }, &all, "http://h:1/"),
            Err(SubscriptionError::Buffering { field: "maxItems", .. })
        ));
        assert!(matches!(
            new(Buffering { max_bytes: 1_048_577, ..ok }, &all, "http://h:1/"),
            Err(SubscriptionError::Buffering { field: "maxBytes", .. })
        ));
        assert!(matches!(
            new(Buffering { timeout_ms: 24, ..ok }, &all, "http://h:1/"),
            Err(SubscriptionError::Buffering { field: "timeoutMs", .. })
        ));
        assert_eq!(new(ok, &[], "http://h:1/"), Err(SubscriptionError::NoTypes));
        assert!(matches!(new(ok, &all, "https://h:1/"), Err(SubscriptionError::Destination(_))));
        assert!(matches!(new(ok, &all, "/relative"), Err(SubscriptionError::Destination(_))));
        assert!(new(
            Buffering { max_items: 1_000, max_bytes: 1_048_576, timeout_ms: 25 },
            &all,
            "http://h:1/"
        )
        .is_ok());
    }
}
