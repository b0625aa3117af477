//! No key, secret or hash ever reaches the logs.

use super::*;

/// Everything every test in this binary logs, from the first call on.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Buffer(buffer.clone());
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the first subscriber");
        buffer
    })
    .clone()
}

#[derive(Clone)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_key_secret_or_hash_is_ever_logged() {
    let logs = captured_logs();
    let app = spawn_required(Duration::from_secs(30)).await;
    let key = key(&app, "acme", &["logs:read"]).await;
    let text = key.expose();
    let wrong = format!("{}{}", &text[..21], "A".repeat(43));
    assert_eq!(read_status(&app, Cred::Bearer(&text)).await, 200);
    assert_eq!(read_status(&app, Cred::Header(&wrong)).await, 401);
    assert_eq!(write_status(&app, Cred::Bearer(&text)).await, 403);
    keys(&app).revoke(key.id(), time::now()).await.unwrap();
    keys(&app)
        .list(&Tenant::parse("acme").unwrap())
        .await
        .unwrap();

    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains(key.id().as_str()),
        "refusals name the key id:\n{logs}"
    );
    for secret in [
        text.as_str(),
        &text[21..],
        &key.hash().to_hex(),
        &wrong[21..],
    ] {
        assert!(!logs.contains(secret), "a secret was logged");
    }
}
