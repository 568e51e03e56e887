//! The HTTPS sink against a local TLS server whose certificate a CA made up
//! for the test signed: trusted through `LAMBDA_SANSIO_SINK_CA_FILE`, every
//! record arrives; without the CA, verification refuses the server and
//! nothing is sent.

#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

/// A CA (its PEM) and a TLS server for `localhost` signed by it; returns
/// the CA and the server's port, and what the server took.
fn tls_sink() -> (String, u16, Arc<Mutex<Vec<Value>>>) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "lambda-sansio test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let server_cert = server_params.signed_by(&server_key, &ca, &ca_key).unwrap();
    let chain = vec![CertificateDer::from(server_cert.der().to_vec())];
    let key = PrivateKeyDer::from_pem_slice(server_key.serialize_pem().as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let taken = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&taken);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, store) = (Arc::clone(&config), Arc::clone(&store));
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else { return };
                let mut reader = BufReader::new(rustls::StreamOwned::new(connection, tcp));
                while let Some((_line, body)) = support::read_request(&mut reader) {
                    if let Ok(Value::Array(records)) = serde_json::from_slice(&body) {
                        store.lock().unwrap().extend(records);
                    }
                    let stream = reader.get_mut();
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                    if stream.write_all(answer).and_then(|()| stream.flush()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (ca.pem(), port, taken)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_sink_trusted_through_a_ca_file_gets_every_record() {
    let dir = support::scratch("https");
    let (ca, port, taken) = tls_sink();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let url = format!("https://localhost:{port}/ingest");
    let env = [
        ("LAMBDA_SANSIO_SINK", "http"),
        ("LAMBDA_SANSIO_SINK_URL", url.as_str()),
        ("LAMBDA_SANSIO_SINK_CA_FILE", ca_file.to_str().unwrap()),
    ];
    let run = support::run(&dir, &env, &[r#"{"n":1}"#, r#"{"n":2}"#], Duration::from_secs(10)).await;
    let records = taken.lock().unwrap().clone();
    support::assert_complete(&records, &run.started, &[1, 2]);
    support::extension_exited_by_itself(&run);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_no_trusted_ca_signed_gets_nothing() {
    let dir = support::scratch("https-untrusted");
    let (_ca, port, taken) = tls_sink();
    let url = format!("https://localhost:{port}/ingest");
    let env = [("LAMBDA_SANSIO_SINK", "http"), ("LAMBDA_SANSIO_SINK_URL", url.as_str())];
    let run = support::run(&dir, &env, &[r#"{"n":1}"#], Duration::from_secs(10)).await;
    assert!(taken.lock().unwrap().is_empty(), "verification refused the server");
    let said = run.report.output.iter().any(|l| l.stderr && l.line.contains("the sink failed"));
    assert!(said, "{:?}", run.report.output);
    support::extension_exited_by_itself(&run);
}
