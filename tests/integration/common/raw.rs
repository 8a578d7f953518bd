//! A plain HTTP harness for the simulator's own tests: raw requests, raw answers.

use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// A simulator and a plain HTTP client to talk to it (no okta-lifecycle client in between).
pub struct Org {
    pub simulator: Simulator,
    pub http: reqwest::Client,
}

/// An HTTP answer: status, headers and the JSON body (null when there is none).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn error_code(&self) -> &str {
        self.body["errorCode"].as_str().unwrap_or_default()
    }

    pub fn causes(&self) -> Vec<String> {
        self.body["errorCauses"]
            .as_array()
            .map(|causes| causes.iter().filter_map(|cause| cause["errorSummary"].as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// The `rel="next"` URL of the `Link` headers.
    pub fn next_link(&self) -> Option<String> {
        self.headers
            .get_all("link")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.ends_with("rel=\"next\""))
            .and_then(|value| value.split(['<', '>']).nth(1).map(str::to_owned))
    }
}

impl Org {
    pub async fn start(config: SimulatorConfig) -> Org {
        let simulator = Simulator::start(config).await.expect("simulator starts");
        let http = reqwest::Client::builder().no_proxy().build().expect("client");
        Org { simulator, http }
    }

    pub async fn new() -> Org {
        Org::start(SimulatorConfig::default()).await
    }

    pub async fn call_with(&self, method: Method, path: &str, body: Option<Value>, token: &str) -> Answer {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.simulator.url()) };
        let mut request = self.http.request(method, url);
        if !token.is_empty() {
            request = request.header("Authorization", token);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(serde_json::to_vec(&body).expect("json"));
        }
        let response = request.send().await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, headers, body }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let token = format!("SSWS {}", self.simulator.api_token());
        self.call_with(method, path, body, &token).await
    }

    pub async fn create(&self, query: &str, login: &str, password: bool) -> Answer {
        let mut body = json!({ "profile": profile(login) });
        if password {
            body["credentials"] = json!({ "password": { "value": "Password150kta" } });
        }
        self.call(Method::POST, &format!("/api/v1/users{query}"), Some(body)).await
    }

    pub async fn create_id(&self, query: &str, login: &str, password: bool) -> String {
        let answer = self.create(query, login, password).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        answer.body["id"].as_str().expect("id").to_owned()
    }
}

/// A valid profile for `login`.
pub fn profile(login: &str) -> Value {
    json!({ "firstName": "Ada", "lastName": "Lovelace", "email": login, "login": login })
}
