//! The main job until the command line exists: plans and applies the example policy over three
//! days of the example HR export against the built-in simulator, printing each plan, each
//! report and the journal's history of one leaver.
//!
//! ```text
//! cargo run --release --features simulator --example three_days
//! ```
//!
//! Against a real org: set OKTA_ORG_URL and credentials (see the README) and pass `--real`;
//! the plan is printed, and nothing is applied unless `--apply` is given too.

use std::path::Path;

use okta_lifecycle::lifecycle::record::{read_records, SourceFormat};
use okta_lifecycle::lifecycle::{apply, plan, ApplyOptions, Journal, Policy};
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::{ClientConfig, OktaClient};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    let real = arguments.iter().any(|a| a == "--real");
    let apply_real = arguments.iter().any(|a| a == "--apply");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let policy = Policy::from_file(&examples.join("policy.toml"))?;

    let (_simulator, client, journal) = if real {
        let config = ClientConfig::from_env()?;
        let journal = Journal::open(&Journal::default_path(config.org_url.as_str()))?;
        (None, OktaClient::new(config)?, journal)
    } else {
        let simulator = Simulator::start(SimulatorConfig::default()).await?;
        let client = OktaClient::new(ClientConfig::with_api_token(&simulator.url(), simulator.api_token())?)?;
        println!("Okta simulator at {}\n", simulator.url());
        (Some(simulator), client, Journal::in_memory()?)
    };

    let days = if real { 1 } else { 3 };
    for day in 1..=days {
        let records = read_records(&examples.join(format!("hr/day{day}.csv")), SourceFormat::Csv)?;
        let planned = plan(&client, &policy, &records, &journal).await?;
        println!("== Day {day}: {} records", records.len());
        print!("{}", planned.render());
        if real && !apply_real {
            println!("(not applied: pass --apply to apply it)");
            continue;
        }
        let report = apply(&client, &planned, &journal, &ApplyOptions::default()).await?;
        print!("{}", report.render());
        let again = plan(&client, &policy, &records, &journal).await?;
        println!("Planning day {day} again: {} changes\n", again.changes.len());
    }
    if !real {
        println!("== History of donald.knuth@acme.example (a day-3 leaver) from the journal");
        for entry in journal.history("donald.knuth@acme.example")? {
            println!("  {}  {:<22} {:<16} {:?}", entry.updated_at, entry.action, entry.operation, entry.status);
        }
        if let Some(snapshot) = journal.snapshots("donald.knuth@acme.example")?.last() {
            let groups: Vec<&str> = snapshot.groups.iter().map(|(_, name)| name.as_str()).collect();
            println!("  recorded before deprovisioning: status {}, groups {groups:?}", snapshot.status);
        }
    }
    Ok(())
}
