//! The platform's handling of Extensions and Telemetry API calls.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::event::{InitFailure, PlatformEvent};
use super::machine::{ConnId, ExtPhase, Extension, Phase, PlatformMachine};
use super::reply::{invalid_state, Reply};
use crate::extension::{EventType, RegisterInfo};
use crate::headers;
use crate::ids::{ExtensionId, ExtensionName};
use crate::runtime::Mode;
use crate::telemetry::{Subscription, SubscriptionApi};

#[derive(Deserialize)]
struct RegisterBody {
    events: Vec<String>,
}

fn forbidden(error_type: &str, message: &str) -> Reply {
    Reply::error(StatusCode::FORBIDDEN, error_type, message)
}

impl PlatformMachine {
    pub(super) fn register(&mut self, conn: ConnId, request: &http::Request<Bytes>) {
        let reply = self.register_reply(conn, request);
        self.reply(conn, reply);
    }

    fn register_reply(&mut self, conn: ConnId, request: &http::Request<Bytes>) -> Reply {
        if self.phase != Phase::Init || self.runtime.started {
            return forbidden("Extension.RegistrationClosed", "registration is closed");
        }
        let name =
            request.headers().get(headers::EXTENSION_NAME).map(|v| ExtensionName::from_bytes(v.as_bytes()));
        let Some(Ok(name)) = name else {
            return forbidden("Extension.InvalidExtensionName", "missing or invalid Lambda-Extension-Name");
        };
        let Ok(body) = serde_json::from_slice::<RegisterBody>(request.body()) else {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestFormat",
                "body must be {\"events\":[…]}",
            );
        };
        let mut events = Vec::with_capacity(body.events.len());
        for event in &body.events {
            match event.as_str() {
                "INVOKE" => events.push(EventType::Invoke),
                "SHUTDOWN" => events.push(EventType::Shutdown),
                _ => return forbidden("Extension.InvalidEventType", "unknown event type"),
            }
        }
        let invoke = Self::wants(&events, EventType::Invoke);
        let shutdown = Self::wants(&events, EventType::Shutdown);
        let external = self.config.external_extensions.iter().any(|n| n == name.as_str());
        if invoke && matches!(self.config.mode, Mode::Concurrent { .. }) {
            return forbidden("Extension.InvalidEventType", "Managed Instances extensions get SHUTDOWN only");
        }
        if shutdown && !external {
            return forbidden(
                "Extension.InvalidEventType",
                "internal extensions cannot register for SHUTDOWN",
            );
        }
        if self.extensions.iter().any(|e| e.name == name.as_str()) {
            return forbidden("Extension.InvalidExtensionState", "an extension with this name is registered");
        }
        if self.extensions.len() >= self.config.max_extensions {
            return forbidden("Extension.TooManyExtensions", "too many extensions");
        }
        self.issued_extensions += 1;
        let id_text = format!("00000000-0000-4000-8000-{:012x}", self.issued_extensions);
        let Ok(id) = ExtensionId::new(&id_text) else {
            return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, "ServiceException", "identifier");
        };
        let wants_account = request
            .headers()
            .get(headers::EXTENSION_ACCEPT_FEATURE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|f| f.trim() == "accountId"));
        let info = RegisterInfo {
            function_name: Some(self.config.function_name.clone()),
            function_version: Some(self.config.function_version.clone()),
            handler: Some(self.config.handler.clone()),
            account_id: wants_account.then(|| self.config.account_id.clone()),
        };
        self.extensions.push(Extension {
            id: id.clone(),
            name: name.to_string(),
            invoke,
            shutdown,
            phase: ExtPhase::Registered,
            subscribed: None,
            poll: None,
            pending: Default::default(),
            delivered: None,
            registered_on: Some(conn),
        });
        self.events.push_back(PlatformEvent::ExtensionRegistered {
            id: id.clone(),
            name: name.to_string(),
            events,
        });
        Reply::json(StatusCode::OK, crate::exchange::json_body(&info))
            .with_header(headers::EXTENSION_IDENTIFIER, id.header_value().clone())
    }

    /// The index of the extension named by the request's identifier, or the
    /// `403` to answer.
    fn identify(&mut self, request: &http::Request<Bytes>) -> Result<usize, Reply> {
        let Some(raw) = request.headers().get(headers::EXTENSION_IDENTIFIER) else {
            return Err(forbidden(
                "Extension.MissingExtensionIdentifier",
                "missing Lambda-Extension-Identifier",
            ));
        };
        let Ok(id) = ExtensionId::from_bytes(raw.as_bytes()) else {
            return Err(forbidden(
                "Extension.InvalidExtensionIdentifier",
                "invalid Lambda-Extension-Identifier",
            ));
        };
        let index = self.extensions.iter().position(|e| e.id == id);
        let index = index.ok_or_else(|| {
            forbidden("Extension.UnknownExtensionIdentifier", "unknown extension identifier")
        })?;
        if self.extensions[index].phase == ExtPhase::Failed {
            return Err(forbidden("Extension.InvalidExtensionState", "the extension reported an error"));
        }
        // It knows its identifier: the register answer arrived.
        self.extensions[index].registered_on = None;
        Ok(index)
    }

    pub(super) fn extension_next(&mut self, conn: ConnId, request: &http::Request<Bytes>) {
        let index = match self.identify(request) {
            Ok(index) => index,
            Err(reply) => return self.reply(conn, reply),
        };
        let extension = &mut self.extensions[index];
        if extension.poll.is_some() {
            return self.reply(conn, invalid_state("the extension is already polling"));
        }
        if extension.phase == ExtPhase::ShutDown {
            // SHUTDOWN was delivered and the extension polls again: its
            // answer was lost on the way. Sending it again lets the
            // extension finish within the shutdown budget.
            if let Some(body) = self.shutdown_event.clone() {
                extension.delivered = Some((conn, body.clone(), true));
                return self.reply(conn, Reply::json(StatusCode::OK, body));
            }
        }
        extension.poll = Some(conn);
        extension.delivered = None;
        if matches!(extension.phase, ExtPhase::Registered | ExtPhase::Busy) {
            extension.phase = ExtPhase::Idle;
        }
        self.deliver_pending(index);
    }

    pub(super) fn extension_error(&mut self, conn: ConnId, request: &http::Request<Bytes>, init: bool) {
        if self.reported_failure(request) {
            // The answer to its first report was lost: accept it again, so
            // the extension can exit as it should.
            return self.reply(conn, Reply::accepted());
        }
        let index = match self.identify(request) {
            Ok(index) => index,
            Err(reply) => return self.reply(conn, reply),
        };
        let Some(error_type) = request.headers().get(headers::EXTENSION_ERROR_TYPE) else {
            return self.reply(
                conn,
                forbidden("Extension.MissingHeader", "missing Lambda-Extension-Function-Error-Type"),
            );
        };
        let error_type = String::from_utf8_lossy(error_type.as_bytes()).into_owned();
        let extension = &mut self.extensions[index];
        if init && extension.phase != ExtPhase::Registered {
            return self.reply(conn, invalid_state("init error reported after init"));
        }
        extension.phase = ExtPhase::Failed;
        extension.poll = None;
        extension.pending.clear();
        extension.delivered = None;
        let id = extension.id.clone();
        let body = request.body().clone();
        self.events.push_back(if init {
            PlatformEvent::InitFailed { source: InitFailure::Extension(id), error_type, body }
        } else {
            PlatformEvent::ExtensionExitError { id, error_type, body }
        });
        self.reply(conn, Reply::accepted());
    }

    /// Whether the request comes from an extension that already reported
    /// an error.
    fn reported_failure(&self, request: &http::Request<Bytes>) -> bool {
        let id = request.headers().get(headers::EXTENSION_IDENTIFIER);
        let Some(Ok(id)) = id.map(|v| ExtensionId::from_bytes(v.as_bytes())) else { return false };
        self.extensions.iter().any(|e| e.id == id && e.phase == ExtPhase::Failed)
    }

    pub(super) fn subscribe(&mut self, conn: ConnId, request: &http::Request<Bytes>, api: SubscriptionApi) {
        let reply = match self.identify(request) {
            Ok(index) => self.subscribe_reply(index, request.body(), api),
            Err(reply) => reply,
        };
        self.reply(conn, reply);
    }

    fn subscribe_reply(&mut self, index: usize, body: &[u8], api: SubscriptionApi) -> Reply {
        let validation = |message: &str| Reply::error(StatusCode::BAD_REQUEST, "ValidationError", message);
        let extension = &mut self.extensions[index];
        if extension.phase != ExtPhase::Registered {
            return invalid_state("subscriptions are accepted during init only");
        }
        if extension.subscribed.is_some_and(|other| other != api) {
            return validation("the Telemetry and Logs APIs are exclusive");
        }
        let subscription = match Subscription::decode(api, body) {
            Ok(subscription) => subscription,
            Err(error) => return validation(&error.to_string()),
        };
        if matches!(self.config.mode, Mode::Concurrent { .. }) {
            if let Err(message) = managed_instances_rules(&subscription) {
                return validation(&message);
            }
        }
        extension.subscribed = Some(api);
        let id = extension.id.clone();
        self.events.push_back(PlatformEvent::Subscribed { id, subscription });
        let mut reply = Reply::json(StatusCode::OK, Bytes::from_static(b"OK"));
        reply.headers = vec![(CONTENT_TYPE, HeaderValue::from_static("text/plain"))];
        reply
    }
}

/// What Lambda Managed Instances add to a subscription's validation: the
/// `2025-01-29` schema and a destination on `sandbox.localdomain`.
fn managed_instances_rules(subscription: &Subscription) -> Result<(), String> {
    if subscription.schema_version() != Subscription::MANAGED_INSTANCES_SCHEMA {
        return Err(format!(
            "Managed Instances require schemaVersion {}, not {}",
            Subscription::MANAGED_INSTANCES_SCHEMA,
            subscription.schema_version()
        ));
    }
    let host =
        subscription.destination().parse::<http::Uri>().ok().and_then(|uri| uri.host().map(str::to_owned));
    if host.as_deref() != Some(Subscription::SANDBOX_HOST) {
        return Err(format!(
            "Managed Instances require a destination on {}, not {}",
            Subscription::SANDBOX_HOST,
            subscription.destination()
        ));
    }
    Ok(())
}
