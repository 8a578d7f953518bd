//! The tests' own PostgreSQL: a real server, started and stopped by the test, that the journal
//! and rate-budget tests on PostgreSQL build on.

use crate::common::postgres::{Postgres, USER};

#[tokio::test]
async fn the_tests_start_a_real_postgresql_server_of_their_own_and_stop_it() {
    let server = Postgres::start();
    let (client, connection) = tokio_postgres::connect(&server.url(), tokio_postgres::NoTls).await.expect("connects");
    let driver = tokio::spawn(connection);
    let row = client.query_one("SELECT current_user::text, 1 + 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), USER);
    assert_eq!(row.get::<_, i32>(1), 2);
    let version: String = client.query_one("SHOW server_version", &[]).await.unwrap().get(0);
    assert!(version.split('.').next().and_then(|major| major.parse::<u32>().ok()).is_some_and(|major| major >= 13));
    drop(client);
    let _ = driver.await;
    let port = server.port();
    drop(server);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the server is stopped when dropped");
}
