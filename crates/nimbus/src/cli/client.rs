//! The CLI's API client: signs in with the same settings as the `openstack` CLI
//! (`OS_AUTH_URL`, `OS_USERNAME`, `OS_PASSWORD`, `OS_PROJECT_NAME`, the user's and project's
//! domains: what `admin-openrc.sh` exports), then calls the region's APIs with the token. An
//! API's refusal becomes an error carrying the API's own message.

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};

/// Where and as whom to sign in.
#[derive(Debug, Clone, clap::Args)]
pub struct Credentials {
    /// The identity endpoint (`.../identity/v3`).
    #[arg(long, env = "OS_AUTH_URL", global = true, hide_env_values = true)]
    pub os_auth_url: Option<String>,
    #[arg(long, env = "OS_USERNAME", global = true, hide_env_values = true)]
    pub os_username: Option<String>,
    #[arg(long, env = "OS_PASSWORD", global = true, hide_env_values = true)]
    pub os_password: Option<String>,
    #[arg(long, env = "OS_PROJECT_NAME", global = true, hide_env_values = true)]
    pub os_project_name: Option<String>,
    #[arg(long, env = "OS_USER_DOMAIN_NAME", global = true, default_value = "Default", hide_env_values = true)]
    pub os_user_domain_name: String,
    #[arg(long, env = "OS_PROJECT_DOMAIN_NAME", global = true, default_value = "Default", hide_env_values = true)]
    pub os_project_domain_name: String,
}

/// A signed-in session.
pub struct Client {
    http: reqwest::Client,
    /// The region's root URL (the identity URL without `/identity/v3`).
    pub base: String,
    token: String,
    /// The project the token is scoped to.
    pub project_id: String,
}

/// The message of an API error body, whatever its family's shape.
pub fn api_message(v: &Value) -> Option<String> {
    let direct = v["error_msg"].as_str().or_else(|| v["error"]["message"].as_str());
    if let Some(m) = direct {
        return Some(m.to_string());
    }
    // OpenStack: {"itemNotFound": {"message": ...}}, Neutron: {"NeutronError": {"message"}}.
    v.as_object()?.values().find_map(|inner| inner["message"].as_str().map(str::to_string))
}

/// The error of a refused request: the API's message and the status.
fn refusal(status: reqwest::StatusCode, text: String) -> anyhow::Error {
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    anyhow!("{} ({})", api_message(&v).unwrap_or(text), status.as_u16())
}

impl Client {
    /// Signs in.
    pub async fn login(c: &Credentials) -> anyhow::Result<Client> {
        let need = |v: &Option<String>, name: &str| {
            v.clone().filter(|s| !s.is_empty()).ok_or_else(|| anyhow!("{name} is not set: source admin-openrc.sh"))
        };
        let auth_url = need(&c.os_auth_url, "OS_AUTH_URL")?;
        let base = auth_url.trim_end_matches('/').trim_end_matches("/v3").trim_end_matches("/identity").to_string();
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": need(&c.os_username, "OS_USERNAME")?, "domain": {"name": c.os_user_domain_name},
                "password": need(&c.os_password, "OS_PASSWORD")?}}},
            "scope": {"project": {"name": need(&c.os_project_name, "OS_PROJECT_NAME")?,
                "domain": {"name": c.os_project_domain_name}}}}});
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(600)).build()?;
        let r = http
            .post(format!("{base}/identity/v3/auth/tokens"))
            .json(&body)
            .send()
            .await
            .with_context(|| format!("reaching {base}"))?;
        let status = r.status();
        let token = r.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).map(str::to_string);
        let v: Value = r.json().await.unwrap_or(Value::Null);
        let Some(token) = token.filter(|_| status.is_success()) else {
            bail!("sign-in refused ({status}): {}", api_message(&v).unwrap_or_default());
        };
        let project_id = v["token"]["project"]["id"].as_str().unwrap_or_default().to_string();
        Ok(Client { http, base, token, project_id })
    }

    /// Sends a request; the JSON answer, or the API's error message.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let text = self.call_text(method, path, body).await?;
        Ok(if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) })
    }

    /// Sends a request; the answer's text.
    pub async fn call_text(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<String> {
        let mut req = self
            .http
            .request(method.parse()?, format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token)
            .header("Accept", "application/json");
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.with_context(|| format!("{method} {path}"))?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            return Err(refusal(status, text));
        }
        Ok(text)
    }

    /// Sends a body streamed from a file, reporting each chunk sent to `sent` (upload
    /// progress); the JSON answer.
    pub async fn put_file(
        &self,
        path: &str,
        file: &std::path::Path,
        content_type: &str,
        sent: impl Fn(u64) + Send + Sync + 'static,
    ) -> anyhow::Result<Value> {
        use futures::StreamExt;
        let f = tokio::fs::File::open(file).await.with_context(|| format!("opening {}", file.display()))?;
        let len = f.metadata().await?.len();
        let stream = tokio_util::io::ReaderStream::with_capacity(f, 256 * 1024).inspect(move |chunk| {
            if let Ok(c) = chunk {
                sent(c.len() as u64);
            }
        });
        let r = self
            .http
            .put(format!("{}{path}", self.base))
            .header("X-Auth-Token", &self.token)
            .header("Content-Type", content_type)
            .header("Content-Length", len)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await
            .with_context(|| format!("PUT {path}"))?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            return Err(refusal(status, text));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Streams a GET's body into a file, reporting (received, total) as it goes.
    pub async fn get_to_file(
        &self,
        path: &str,
        file: &std::path::Path,
        progress: impl Fn(u64, Option<u64>),
    ) -> anyhow::Result<u64> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let r = self.http.get(format!("{}{path}", self.base)).header("X-Auth-Token", &self.token).send().await?;
        let status = r.status();
        if !status.is_success() {
            return Err(refusal(status, r.text().await?));
        }
        let total = r.content_length();
        // Written beside the target and renamed when complete: no half file under its name.
        let partial = file.with_extension("nimbus-partial");
        let mut out =
            tokio::fs::File::create(&partial).await.with_context(|| format!("creating {}", partial.display()))?;
        let mut got = 0u64;
        let mut body = r.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            out.write_all(&chunk).await?;
            got += chunk.len() as u64;
            progress(got, total);
        }
        out.sync_all().await?;
        tokio::fs::rename(&partial, file).await?;
        Ok(got)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.call("POST", path, Some(body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_of_every_family_are_found() {
        let cases = [
            (json!({"error_code": "Nimbus.0400", "error_msg": "bad"}), "bad"),
            (json!({"error": {"code": 401, "message": "who"}}), "who"),
            (json!({"itemNotFound": {"code": 404, "message": "gone"}}), "gone"),
            (json!({"NeutronError": {"type": "x", "message": "net", "detail": ""}}), "net"),
        ];
        for (v, want) in cases {
            assert_eq!(api_message(&v).as_deref(), Some(want), "{v}");
        }
        assert_eq!(api_message(&json!([1])), None);
    }
}
