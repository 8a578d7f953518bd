//! A loopback HTTP server that answers whatever a test scripts: the hostile or broken server
//! that Okta never is (cycles, redirects, absurd headers, huge bodies).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode};

/// One scripted answer.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// A JSON answer with `status`.
    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Script = dyn Fn(&str, &str, usize) -> Answer + Send + Sync;

/// A running scripted server; stops when dropped.
pub struct Scripted {
    pub url: String,
    requests: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    /// Serves `script(method, path_and_query, n)` for the n-th request (0-based).
    pub async fn start(script: impl Fn(&str, &str, usize) -> Answer + Send + Sync + 'static) -> Scripted {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let (count, record) = (Arc::clone(&requests), Arc::clone(&log));
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let (script, count, record) = (Arc::clone(&script), Arc::clone(&count), Arc::clone(&record));
            async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let method = request.method().as_str().to_owned();
                let target = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
                record.lock().unwrap().push(format!("{method} {target}"));
                let answer = script(&method, &target, n);
                let mut response = Response::new(Body::from(answer.body));
                *response.status_mut() = StatusCode::from_u16(answer.status).unwrap();
                for (name, value) in answer.headers {
                    response.headers_mut().append(
                        HeaderName::from_bytes(name.as_bytes()).unwrap(),
                        HeaderValue::from_str(&value).unwrap(),
                    );
                }
                response
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Scripted { url, requests, log, task }
    }

    /// Requests served so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// `METHOD path?query` of every request, in order.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}
