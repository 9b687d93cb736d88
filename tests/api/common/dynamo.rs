//! DynamoDB test tools: a table scan with the claim invariants, and a cuttable proxy that
//! simulates a network outage between the function and DynamoDB.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use neptun_users::store::DynamoStore;
use tokio::net::{TcpListener, TcpStream};

/// The emulator's port, from `AWS_ENDPOINT_URL_DYNAMODB` (`http://127.0.0.1:PORT`).
pub fn emulator_port() -> u16 {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").expect("an emulator endpoint");
    endpoint
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .parse()
        .expect("a port")
}

/// Every item of the table, by key.
pub async fn scan(store: &DynamoStore) -> HashMap<String, HashMap<String, AttributeValue>> {
    let mut items = HashMap::new();
    let mut start = None;
    loop {
        let page = store
            .client()
            .scan()
            .table_name(store.table())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let key = item["pk"].as_s().unwrap().clone();
            items.insert(key, item.clone());
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return items;
        }
    }
}

/// Exactly one claim per user, matching its email; no orphan claims.
pub async fn assert_claims_consistent(store: &DynamoStore) -> usize {
    let items = scan(store).await;
    let users: Vec<_> = items
        .iter()
        .filter(|(k, _)| k.starts_with("USER#"))
        .collect();
    let claims: Vec<_> = items
        .iter()
        .filter(|(k, _)| k.starts_with("EMAIL#"))
        .collect();
    assert_eq!(users.len(), claims.len(), "one claim per user, no orphans");
    for (key, user) in &users {
        let lower = user["email_lower"].as_s().unwrap();
        assert_eq!(lower, &user["email"].as_s().unwrap().to_ascii_lowercase());
        let claim = &items[&format!("EMAIL#{lower}")];
        assert_eq!(
            format!("USER#{}", claim["user_id"].as_n().unwrap()),
            **key,
            "claim points back"
        );
    }
    users.len()
}

/// A TCP proxy in front of the emulator that can be cut and restored, like a network outage.
pub struct Outage {
    pub port: u16,
    down: Arc<AtomicBool>,
    generation: Arc<AtomicUsize>,
}

impl Outage {
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let down = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicUsize::new(0));
        let (down_flag, generation_now) = (down.clone(), generation.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if down_flag.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                let born = generation_now.load(Ordering::SeqCst);
                let (down, generation) = (down_flag.clone(), generation_now.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                        return;
                    };
                    let cut = async {
                        while !down.load(Ordering::SeqCst)
                            && generation.load(Ordering::SeqCst) == born
                        {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut => {}
                    }
                });
            }
        });
        Self {
            port,
            down,
            generation,
        }
    }

    pub fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}
