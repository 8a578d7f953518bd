//! The main job until the command line exists: plans and applies the example policy over three
//! days of the example HR export against the built-in simulator, printing each plan, each
//! report and the journal's history of one leaver. Against the simulator the org first gets a
//! typed custom attribute, `costCode` (an integer), which the policy then fills from the
//! export's `cost_code` column: the text of the CSV becomes a number before it reaches Okta.
//!
//! ```text
//! cargo run --release --features simulator --example three_days
//! ```
//!
//! Against a real org: set OKTA_ORG_URL and credentials (see docs/getting-started.md) and pass `--real`;
//! the plan is printed, and nothing is applied unless `--apply` is given too.

use std::path::Path;

use okta_lifecycle::lifecycle::record::{read_records, SourceFormat};
use okta_lifecycle::lifecycle::{apply, plan, ApplyOptions, Journal, Policy};
use okta_lifecycle::simulator::{Simulator, SimulatorConfig};
use okta_lifecycle::{ClientConfig, OktaClient};
use serde_json::{json, Map};

/// The policy's attribute line that the typed attribute is added after.
const TITLE_RULE: &str = "title          = \"{job_title | TITLE}\"";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    let real = arguments.iter().any(|a| a == "--real");
    let apply_real = arguments.iter().any(|a| a == "--apply");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let text = std::fs::read_to_string(examples.join("policy.toml"))?;

    let (_simulator, client, journal) = if real {
        let config = ClientConfig::from_env()?;
        let journal = Journal::open(&Journal::default_path(config.org_url.as_str()))?;
        (None, OktaClient::new(config)?, journal)
    } else {
        let simulator = Simulator::start(SimulatorConfig::default()).await?;
        let client = OktaClient::new(ClientConfig::with_api_token(&simulator.url(), simulator.api_token())?)?;
        println!("Okta simulator at {}\n", simulator.url());
        let mut custom = Map::new();
        custom.insert("costCode".into(), json!({"title": "Cost code", "type": "integer"}));
        client.schema().update_custom(&custom).await?;
        (Some(simulator), client, Journal::in_memory()?)
    };
    let policy = if real {
        Policy::from_toml(&text)?
    } else {
        Policy::from_toml(&text.replace(TITLE_RULE, &format!("{TITLE_RULE}\ncostCode       = \"{{cost_code}}\"")))?
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
        let leaver = "elena.garcía@acme.example";
        println!("== History of {leaver} (a day-3 leaver, a help-desk administrator) from the journal");
        let org = client.config().org_url.as_str();
        for entry in journal.history(leaver, org)? {
            println!("  {}  {:<22} {:<16} {:?}", entry.updated_at, entry.action, entry.operation, entry.status);
        }
        if let Some(snapshot) = journal.snapshots(leaver, org)?.last() {
            let groups: Vec<&str> = snapshot.groups.iter().map(|(_, name)| name.as_str()).collect();
            let roles: Vec<&str> = snapshot.roles.iter().map(|role| role.role_type.as_str()).collect();
            println!(
                "  recorded before deprovisioning: status {}, groups {groups:?}, roles {roles:?}",
                snapshot.status
            );
        }
    }
    Ok(())
}
