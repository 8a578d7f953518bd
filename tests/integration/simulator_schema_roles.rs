#![cfg(feature = "simulator")]
//! The simulator's profile schema, user types and admin roles over real HTTP: shapes, profile
//! validation on user writes, error codes, role targets, scopes, rate-limit buckets and
//! persistence.

use okta_lifecycle::simulator::SimulatorConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common;

use common::raw::{profile, Answer, Org};

const SCHEMA: &str = "/api/v1/meta/schemas/user/default";
const TYPES: &str = "/api/v1/meta/types/user";

fn expect(answer: &Answer, status: StatusCode) {
    assert_eq!(answer.status, status, "{}", answer.body);
}

fn expect_error(answer: &Answer, status: StatusCode, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.error_code(), code, "{}", answer.body);
}

async fn define(org: &Org, properties: Value) -> Answer {
    org.call(Method::POST, SCHEMA, Some(json!({ "definitions": { "custom": { "properties": properties } } }))).await
}

async fn create_with(org: &Org, login: &str, extra: Value) -> Answer {
    let mut user = profile(login);
    for (key, value) in extra.as_object().expect("object") {
        user[key] = value.clone();
    }
    org.call(Method::POST, "/api/v1/users?activate=false", Some(json!({ "profile": user }))).await
}

async fn group(org: &Org, name: &str) -> String {
    let answer = org.call(Method::POST, "/api/v1/groups", Some(json!({"profile": {"name": name}}))).await;
    expect(&answer, StatusCode::OK);
    answer.body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn default_schema_has_okta_shape() {
    let org = Org::new().await;
    let url = org.simulator.url();
    let schema = org.call(Method::GET, SCHEMA, None).await;
    expect(&schema, StatusCode::OK);
    let body = &schema.body;
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "$schema",
            "name",
            "title",
            "description",
            "lastUpdated",
            "created",
            "definitions",
            "type",
            "properties",
            "_links"
        ]
    );
    assert_eq!(body["id"], format!("{url}/meta/schemas/user/default"));
    assert_eq!(body["$schema"], "http://json-schema.org/draft-04/schema#");
    assert_eq!(body["name"], "user");
    assert_eq!(body["title"], "User");
    assert_eq!(body["type"], "object");
    assert_eq!(
        body["properties"],
        json!({"profile": {"allOf": [{"$ref": "#/definitions/custom"}, {"$ref": "#/definitions/base"}]}})
    );
    let base = &body["definitions"]["base"];
    assert_eq!(base["id"], "#base");
    assert_eq!(base["required"], json!(["login", "firstName", "lastName", "email"]));
    let names: Vec<&str> = base["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "login",
            "firstName",
            "lastName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
            "email",
            "title",
            "displayName",
            "nickName",
            "profileUrl",
            "secondEmail",
            "mobilePhone",
            "primaryPhone",
            "streetAddress",
            "city",
            "state",
            "zipCode",
            "countryCode",
            "postalAddress",
            "preferredLanguage",
            "locale",
            "timezone",
            "userType",
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "managerId",
            "manager"
        ]
    );
    assert_eq!(
        base["properties"]["login"],
        json!({
            "title": "Username", "type": "string", "required": true, "mutability": "READ_WRITE", "scope": "NONE",
            "minLength": 5, "maxLength": 100, "permissions": [{"principal": "SELF", "action": "READ_WRITE"}],
            "master": {"type": "PROFILE_MASTER"}
        })
    );
    assert_eq!(base["properties"]["email"]["format"], "email");
    assert_eq!(base["properties"]["countryCode"]["format"], "country-code");
    assert_eq!(base["properties"]["mobilePhone"]["maxLength"], 100);
    let custom = &body["definitions"]["custom"];
    assert_eq!(custom["id"], "#custom");
    assert_eq!(custom["type"], "object");
    // The convenience `custom_attributes`: base names stay base, `startDate` becomes custom.
    assert_eq!(custom["properties"].as_object().unwrap().keys().collect::<Vec<_>>(), ["startDate"]);
    assert_eq!(custom["properties"]["startDate"]["type"], "string");
    assert_eq!(custom["required"], json!([]));

    let user_type = org.call(Method::GET, &format!("{TYPES}/default"), None).await;
    let type_id = user_type.body["id"].as_str().unwrap().to_owned();
    let schema_id = format!("osc{}", &type_id[3..]);
    assert_eq!(
        body["_links"]["self"],
        json!({"rel": "self", "href": format!("{url}/api/v1/meta/schemas/user/{schema_id}"), "method": "GET"})
    );
    assert_eq!(
        body["_links"]["type"],
        json!({"rel": "type", "href": format!("{url}/api/v1/meta/types/user/{type_id}"), "method": "GET"})
    );
    let by_id = org.call(Method::GET, &format!("/api/v1/meta/schemas/user/{schema_id}"), None).await;
    expect(&by_id, StatusCode::OK);
    assert_eq!(by_id.body["id"], format!("{url}/meta/schemas/user/{schema_id}"));
    assert_eq!(by_id.body["definitions"], body["definitions"]);
    let missing = org.call(Method::GET, "/api/v1/meta/schemas/user/osc0000000000000miss", None).await;
    expect_error(&missing, StatusCode::NOT_FOUND, "E0000007");

    // A fresh org without custom properties has no `required` member in `#custom` (recorded).
    let bare = Org::start(SimulatorConfig { custom_attributes: Vec::new(), ..SimulatorConfig::default() }).await;
    let bare = bare.call(Method::GET, SCHEMA, None).await;
    assert_eq!(bare.body["definitions"]["custom"], json!({"id": "#custom", "type": "object", "properties": {}}));
}

#[tokio::test]
async fn custom_properties_are_added_changed_and_removed() {
    let org = Org::new().await;
    let added = define(
        &org,
        json!({
            "badge": {"title": "Badge", "description": "Badge number", "type": "string", "minLength": 2,
                      "maxLength": 6, "unique": true, "required": false},
            "contractor": {"title": "Contractor", "type": "boolean", "master": {"type": "PROFILE_MASTER"}},
            "level": {"title": "Level", "type": "integer", "enum": [1, 2, 3],
                      "oneOf": [{"const": 1, "title": "one"}, {"const": 2, "title": "two"}, {"const": 3, "title": "three"}]},
            "score": {"title": "Score", "type": "number", "scope": "SELF"},
            "skills": {"title": "Skills", "type": "array", "items": {"type": "string", "enum": ["rust", "go"],
                       "oneOf": [{"const": "rust", "title": "Rust"}, {"const": "go", "title": "Go"}]}},
        }),
    )
    .await;
    expect(&added, StatusCode::OK);
    let custom = &added.body["definitions"]["custom"]["properties"];
    assert_eq!(
        custom["badge"],
        json!({"title": "Badge", "description": "Badge number", "type": "string", "unique": "UNIQUE_VALIDATED",
               "mutability": "READ_WRITE", "scope": "NONE", "minLength": 2, "maxLength": 6,
               "permissions": [{"principal": "SELF", "action": "READ_ONLY"}]})
    );
    assert_eq!(custom["contractor"]["master"], json!({"type": "PROFILE_MASTER"}));
    assert_eq!(custom["level"]["enum"], json!([1, 2, 3]));
    assert_eq!(custom["score"]["scope"], "SELF");
    assert_eq!(custom["skills"]["items"]["type"], "string");
    assert_eq!(custom["skills"]["items"]["oneOf"][1], json!({"const": "go", "title": "Go"}));
    assert!(custom["startDate"].is_object(), "a partial update keeps the other properties");

    // Required via `definitions.custom.required`.
    let required = org
        .call(
            Method::POST,
            SCHEMA,
            Some(json!({"definitions": {"custom": {"properties": {
                "costCode": {"title": "Cost code", "type": "string"}}, "required": ["costCode"]}}})),
        )
        .await;
    expect(&required, StatusCode::OK);
    assert_eq!(required.body["definitions"]["custom"]["required"], json!(["costCode"]));
    assert_eq!(required.body["definitions"]["custom"]["properties"]["costCode"]["required"], true);
    let no_cost_code = create_with(&org, "nocode@example.com", json!({})).await;
    expect_error(&no_cost_code, StatusCode::BAD_REQUEST, "E0000001");
    assert_eq!(no_cost_code.body["errorSummary"], "Api validation failed: costCode");
    assert_eq!(no_cost_code.causes(), ["costCode: The field cannot be left blank"]);

    // The whole schema posted back, as Okta's SDKs do, changes nothing.
    let before = org.call(Method::GET, SCHEMA, None).await.body;
    let round_trip = org.call(Method::POST, SCHEMA, Some(before.clone())).await;
    expect(&round_trip, StatusCode::OK);
    assert_eq!(round_trip.body["definitions"], before["definitions"]);

    // A user holds a value; removing the property (null) removes the value too.
    let user = create_with(&org, "holder@example.com", json!({"costCode": "C1", "score": 2.5})).await;
    expect(&user, StatusCode::OK);
    let id = user.body["id"].as_str().unwrap().to_owned();
    let removed = org
        .call(
            Method::POST,
            SCHEMA,
            Some(json!({"definitions": {"custom": {"properties": {"score": null, "costCode": null}, "required": []}}})),
        )
        .await;
    expect(&removed, StatusCode::OK);
    assert!(removed.body["definitions"]["custom"]["properties"].get("score").is_none());
    assert_eq!(removed.body["definitions"]["custom"]["required"], json!([]));
    let holder = org.call(Method::GET, &format!("/api/v1/users/{id}"), None).await;
    assert!(holder.body["profile"].get("score").is_none());
    assert!(holder.body["profile"].get("costCode").is_none());
    let undefined = create_with(&org, "late@example.com", json!({"score": 1})).await;
    assert_eq!(undefined.causes(), ["Property name 'score' is not defined in profile"]);
    assert!(removed.body["lastUpdated"].as_str() >= before["lastUpdated"].as_str());
}

#[tokio::test]
async fn invalid_definitions_are_refused_and_change_nothing() {
    let org = Org::new().await;
    let before = org.call(Method::GET, SCHEMA, None).await.body;
    let cases = [
        (json!({"x": {"title": "X", "type": "date"}}), "x"),
        (json!({"x": {"title": "X"}}), "x"),
        (json!({"x": {"type": "string"}}), "x"),
        (json!({"x": {"title": "X", "type": "array"}}), "x"),
        (json!({"x": {"title": "X", "type": "array", "items": {"type": "boolean"}}}), "x"),
        (
            json!({"x": {"title": "X", "type": "string", "enum": ["a", "b"], "oneOf": [{"const": "a", "title": "A"}]}}),
            "x",
        ),
        (json!({"x": {"title": "X", "type": "integer", "enum": ["a"]}}), "x"),
        (json!({"x": {"title": "X", "type": "string", "minLength": 5, "maxLength": 2}}), "x"),
        (json!({"x": {"title": "X", "type": "boolean", "unique": true}}), "x"),
        (json!({"x": {"title": "X", "type": "string", "scope": "EVERYONE"}}), "x"),
        (json!({"Department": {"title": "Clash", "type": "string"}}), "Department"),
        (json!({"startDate": {"title": "Start", "type": "integer"}}), "startDate"),
        (json!({"ok": {"title": "OK", "type": "string"}, "x": 5}), "x"),
    ];
    for (properties, field) in cases {
        let answer = define(&org, properties.clone()).await;
        expect_error(&answer, StatusCode::BAD_REQUEST, "E0000001");
        assert_eq!(answer.body["errorSummary"], format!("Api validation failed: {field}"), "{properties}");
        assert!(answer.causes().iter().all(|cause| cause.starts_with(&format!("{field}: "))), "{}", answer.body);
    }
    let mismatch = define(
        &org,
        json!({"x": {"title": "X", "type": "string", "enum": ["a", "b"], "oneOf": [{"const": "a", "title": "A"}]}}),
    )
    .await;
    assert_eq!(
        mismatch.causes(),
        ["x: Array specified in enum field must match const values specified in oneOf field."]
    );

    // Base properties: the type cannot change; other keys neither, except permissions,
    // firstName/lastName nullability and the login pattern.
    let base = |properties: Value| json!({"definitions": {"base": {"properties": properties}}});
    let retype = org.call(Method::POST, SCHEMA, Some(base(json!({"firstName": {"type": "integer"}})))).await;
    expect_error(&retype, StatusCode::BAD_REQUEST, "E0000001");
    assert_eq!(retype.causes(), ["firstName: The type of a base property cannot be changed"]);
    let retitle = org.call(Method::POST, SCHEMA, Some(base(json!({"city": {"title": "Town"}})))).await;
    expect_error(&retitle, StatusCode::BAD_REQUEST, "E0000001");
    let invent = org.call(Method::POST, SCHEMA, Some(base(json!({"shoeSize": {"type": "string"}})))).await;
    expect_error(&invent, StatusCode::BAD_REQUEST, "E0000001");
    let remove = org.call(Method::POST, SCHEMA, Some(base(json!({"city": null})))).await;
    expect_error(&remove, StatusCode::BAD_REQUEST, "E0000001");
    let after = org.call(Method::GET, SCHEMA, None).await.body;
    assert_eq!(after["definitions"], before["definitions"]);
    assert_eq!(after["lastUpdated"], before["lastUpdated"]);

    let allowed = org
        .call(
            Method::POST,
            SCHEMA,
            Some(base(json!({
                "city": {"permissions": [{"principal": "SELF", "action": "READ_WRITE"}]},
                "lastName": {"required": false},
                "login": {"pattern": ".+"},
            }))),
        )
        .await;
    expect(&allowed, StatusCode::OK);
    let base = &allowed.body["definitions"]["base"];
    assert_eq!(base["properties"]["city"]["permissions"][0]["action"], "READ_WRITE");
    assert!(base["properties"]["lastName"].get("required").is_none());
    assert_eq!(base["required"], json!(["login", "firstName", "email"]));
    assert_eq!(base["properties"]["login"]["pattern"], ".+");
    let plain_login = org
        .call(
            Method::POST,
            "/api/v1/users?activate=false",
            Some(json!({"profile": {"login": "ada", "email": "ada@example.com", "firstName": "Ada"}})),
        )
        .await;
    expect(&plain_login, StatusCode::OK);
    let bad_pattern = org
        .call(
            Method::POST,
            SCHEMA,
            Some(json!({"definitions": {"base": {"properties": {"login": {"pattern": "^a"}}}}})),
        )
        .await;
    expect_error(&bad_pattern, StatusCode::BAD_REQUEST, "E0000001");
    let unknown_schema =
        org.call(Method::POST, "/api/v1/meta/schemas/user/oscnothere0000000000", Some(json!({}))).await;
    expect_error(&unknown_schema, StatusCode::NOT_FOUND, "E0000007");
    let not_json = org.call(Method::POST, SCHEMA, Some(json!([1]))).await;
    expect_error(&not_json, StatusCode::BAD_REQUEST, "E0000003");
}

#[tokio::test]
async fn profiles_are_validated_against_the_schema() {
    let org = Org::new().await;
    expect(
        &define(
            &org,
            json!({
                "badge": {"title": "Badge", "type": "string", "minLength": 2, "maxLength": 6, "unique": true},
                "contractor": {"title": "Contractor", "type": "boolean"},
                "level": {"title": "Level", "type": "integer", "enum": [1, 2, 3]},
                "score": {"title": "Score", "type": "number"},
                "tags": {"title": "Tags", "type": "array", "items": {"type": "integer"}},
                "skills": {"title": "Skills", "type": "array", "items": {"type": "string", "enum": ["rust", "go"]}},
                "tier": {"title": "Tier", "type": "string", "enum": ["gold", "silver"]},
            }),
        )
        .await,
        StatusCode::OK,
    );
    let undefined = create_with(&org, "undef@example.com", json!({"notValid": "x"})).await;
    expect_error(&undefined, StatusCode::BAD_REQUEST, "E0000001");
    assert_eq!(undefined.body["errorSummary"], "Api validation failed: newUser");
    assert_eq!(undefined.causes(), ["Property name 'notValid' is not defined in profile"]);

    let refused = [
        (json!({"contractor": "yes"}), "contractor: The field must be of type boolean"),
        (json!({"level": "2"}), "level: The field must be of type integer"),
        (json!({"level": 1.5}), "level: The field must be of type integer"),
        (json!({"level": 7}), "level: The field must be one of the enumerated values"),
        (json!({"score": "high"}), "score: The field must be of type number"),
        (json!({"tags": "1,2"}), "tags: The field must be of type array"),
        (json!({"tags": [1, "two"]}), "tags: Each element of the field must be of type integer"),
        (json!({"skills": ["rust", "cobol"]}), "skills: The field must be one of the enumerated values"),
        (json!({"tier": "bronze"}), "tier: The field must be one of the enumerated values"),
        (json!({"badge": "x"}), "badge: The field is too short"),
        (json!({"badge": "x234567"}), "badge: The field is too long"),
        (json!({"city": 12}), "city: The field must be of type string"),
        (json!({"secondEmail": "not-an-email"}), "secondEmail: Does not match required pattern"),
    ];
    for (extra, cause) in refused {
        let answer = create_with(&org, "typed@example.com", extra.clone()).await;
        expect_error(&answer, StatusCode::BAD_REQUEST, "E0000001");
        let field = cause.split(':').next().unwrap();
        assert_eq!(answer.body["errorSummary"], format!("Api validation failed: {field}"), "{extra}");
        assert_eq!(answer.causes(), [cause], "{extra}");
    }
    let accepted = create_with(
        &org,
        "typed@example.com",
        json!({"contractor": true, "level": 2, "score": 2.5, "tags": [1, 2], "skills": ["go"], "tier": "gold",
               "badge": "B-17", "city": null}),
    )
    .await;
    expect(&accepted, StatusCode::OK);
    let id = accepted.body["id"].as_str().unwrap().to_owned();
    assert_eq!(accepted.body["profile"]["level"], 2);
    assert_eq!(accepted.body["profile"]["skills"], json!(["go"]));

    // Unique values: another user may not hold the same badge (any case); the holder may keep it.
    let duplicate = create_with(&org, "second@example.com", json!({"badge": "b-17"})).await;
    expect_error(&duplicate, StatusCode::BAD_REQUEST, "E0000001");
    assert_eq!(duplicate.body["errorSummary"], "Api validation failed: badge");
    assert_eq!(duplicate.causes(), ["badge: An object with this field already exists in the current organization"]);
    let second = create_with(&org, "second@example.com", json!({"badge": "B-18"})).await;
    expect(&second, StatusCode::OK);
    let second_id = second.body["id"].as_str().unwrap();
    let steal = org
        .call(Method::POST, &format!("/api/v1/users/{second_id}"), Some(json!({"profile": {"badge": "B-17"}})))
        .await;
    expect_error(&steal, StatusCode::BAD_REQUEST, "E0000001");
    let keep =
        org.call(Method::POST, &format!("/api/v1/users/{id}"), Some(json!({"profile": {"badge": "B-17"}}))).await;
    expect(&keep, StatusCode::OK);

    // Updates: undefined properties name the `user` object; types are checked on POST and PUT.
    let update_undefined =
        org.call(Method::POST, &format!("/api/v1/users/{id}"), Some(json!({"profile": {"nope": 1}}))).await;
    expect_error(&update_undefined, StatusCode::BAD_REQUEST, "E0000001");
    assert_eq!(update_undefined.body["errorSummary"], "Api validation failed: user");
    assert_eq!(update_undefined.causes(), ["Property name 'nope' is not defined in profile"]);
    let update_type =
        org.call(Method::POST, &format!("/api/v1/users/{id}"), Some(json!({"profile": {"contractor": 1}}))).await;
    assert_eq!(update_type.causes(), ["contractor: The field must be of type boolean"]);
    let mut replacement = profile("typed@example.com");
    replacement["score"] = json!("many");
    let put = org.call(Method::PUT, &format!("/api/v1/users/{id}"), Some(json!({"profile": replacement}))).await;
    assert_eq!(put.causes(), ["score: The field must be of type number"]);
    let unchanged = org.call(Method::GET, &format!("/api/v1/users/{id}"), None).await;
    assert_eq!(unchanged.body["profile"]["score"], 2.5);
}

#[tokio::test]
async fn users_carry_a_realm_and_their_type() {
    let org = Org::new().await;
    let url = org.simulator.url();
    let user = org.create("", "realm@example.com", true).await;
    expect(&user, StatusCode::OK);
    let keys: Vec<&str> = user.body.as_object().unwrap().keys().map(String::as_str).collect();
    let position = |key: &str| keys.iter().position(|k| *k == key).unwrap();
    assert_eq!(position("realmId"), position("passwordChanged") + 1);
    assert_eq!(position("type"), position("realmId") + 1);
    let realm = user.body["realmId"].as_str().unwrap();
    assert!(realm.starts_with("guo") && realm.len() == 20, "{realm}");
    let type_id = user.body["type"]["id"].as_str().unwrap();
    assert_eq!(user.body["_links"]["type"]["href"], format!("{url}/api/v1/meta/types/user/{type_id}"));
    assert_eq!(user.body["_links"]["schema"]["href"], format!("{url}/api/v1/meta/schemas/user/osc{}", &type_id[3..]));
    let listed = org.call(Method::GET, "/api/v1/users", None).await;
    assert_eq!(listed.body[0]["realmId"], realm);
}

#[tokio::test]
async fn user_types_are_listed_created_updated_and_deleted() {
    let org = Org::new().await;
    let url = org.simulator.url();
    let listed = org.call(Method::GET, TYPES, None).await;
    expect(&listed, StatusCode::OK);
    let default = listed.body[0].clone();
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(default["name"], "user");
    assert_eq!(default["displayName"], "User");
    assert_eq!(default["default"], true);
    assert!(default["createdBy"].as_str().unwrap().starts_with("spr"));
    let default_id = default["id"].as_str().unwrap().to_owned();
    assert_eq!(org.call(Method::GET, &format!("{TYPES}/default"), None).await.body, default);

    let created = org
        .call(
            Method::POST,
            TYPES,
            Some(json!({"name": "contractor", "displayName": "Contractor", "description": "Contractors"})),
        )
        .await;
    expect(&created, StatusCode::OK);
    let keys: Vec<&str> = created.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "id",
            "displayName",
            "name",
            "description",
            "createdBy",
            "lastUpdatedBy",
            "created",
            "lastUpdated",
            "default",
            "_links"
        ]
    );
    let type_id = created.body["id"].as_str().unwrap().to_owned();
    assert!(type_id.starts_with("oty") && type_id.len() == 20);
    assert_eq!(created.body["default"], false);
    assert!(created.body["createdBy"].as_str().unwrap().starts_with("00u"));
    let schema_id = format!("osc{}", &type_id[3..]);
    assert_eq!(
        created.body["_links"],
        json!({
            "schema": {"rel": "schema", "href": format!("{url}/api/v1/meta/schemas/user/{schema_id}"), "method": "GET"},
            "self": {"rel": "self", "href": format!("{url}/api/v1/meta/types/user/{type_id}"), "method": "GET"},
        })
    );
    let listed = org.call(Method::GET, TYPES, None).await;
    let ids: Vec<&str> = listed.body.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [default_id.as_str(), type_id.as_str()]);

    for (body, field) in [
        (json!({"name": "Contractor", "displayName": "Again"}), "name"),
        (json!({"name": "9lives", "displayName": "Cats"}), "name"),
        (json!({"name": "with space", "displayName": "Space"}), "name"),
        (json!({"displayName": "Nameless"}), "name"),
        (json!({"name": "nodisplay"}), "displayName"),
    ] {
        let refused = org.call(Method::POST, TYPES, Some(body.clone())).await;
        expect_error(&refused, StatusCode::BAD_REQUEST, "E0000001");
        assert_eq!(refused.body["errorSummary"], format!("Api validation failed: {field}"), "{body}");
    }
    let duplicate = org.call(Method::POST, TYPES, Some(json!({"name": "contractor", "displayName": "Again"}))).await;
    assert_eq!(duplicate.causes(), ["name: An object with this field already exists in the current organization"]);

    let path = format!("{TYPES}/{type_id}");
    let updated = org.call(Method::POST, &path, Some(json!({"displayName": "Contract staff"}))).await;
    expect(&updated, StatusCode::OK);
    assert_eq!(updated.body["displayName"], "Contract staff");
    assert_eq!(updated.body["description"], "Contractors");
    let renamed = org.call(Method::POST, &path, Some(json!({"name": "other"}))).await;
    expect_error(&renamed, StatusCode::BAD_REQUEST, "E0000001");
    let replaced =
        org.call(Method::PUT, &path, Some(json!({"name": "contractor", "displayName": "C", "description": "D"}))).await;
    expect(&replaced, StatusCode::OK);
    assert_eq!((replaced.body["displayName"].as_str(), replaced.body["description"].as_str()), (Some("C"), Some("D")));
    let partial_put = org.call(Method::PUT, &path, Some(json!({"name": "contractor", "displayName": "C"}))).await;
    expect_error(&partial_put, StatusCode::BAD_REQUEST, "E0000001");
    assert_eq!(org.call(Method::GET, &path, None).await.body, replaced.body);

    // The type's schema carries its names; its definitions are the shared ones.
    let schema = org.call(Method::GET, &format!("/api/v1/meta/schemas/user/{schema_id}"), None).await;
    expect(&schema, StatusCode::OK);
    assert_eq!((schema.body["name"].as_str(), schema.body["title"].as_str()), (Some("contractor"), Some("C")));
    assert_eq!(schema.body["_links"]["type"]["href"], format!("{url}/api/v1/meta/types/user/{type_id}"));

    // Users of the type; the type cannot go while they exist, nor the default type ever.
    let mut body = json!({"profile": profile("typed-user@example.com"), "type": {"id": type_id}});
    let user = org.call(Method::POST, "/api/v1/users?activate=false", Some(body.clone())).await;
    expect(&user, StatusCode::OK);
    assert_eq!(user.body["type"]["id"], type_id.as_str());
    assert_eq!(user.body["_links"]["schema"]["href"], format!("{url}/api/v1/meta/schemas/user/{schema_id}"));
    let user_id = user.body["id"].as_str().unwrap().to_owned();
    body["profile"]["login"] = json!("typo@example.com");
    body["type"]["id"] = json!("oty0000000000000none");
    let unknown_type = org.call(Method::POST, "/api/v1/users", Some(body)).await;
    expect_error(&unknown_type, StatusCode::NOT_FOUND, "E0000007");
    assert_eq!(unknown_type.body["errorSummary"], "Not found: Resource not found: oty0000000000000none (CVDType)");
    let in_use = org.call(Method::DELETE, &path, None).await;
    expect_error(&in_use, StatusCode::FORBIDDEN, "E0000142");
    assert_eq!(in_use.body["errorSummary"], "This User Type cannot be deleted.");
    let default_delete = org.call(Method::DELETE, &format!("{TYPES}/{default_id}"), None).await;
    expect_error(&default_delete, StatusCode::FORBIDDEN, "E0000142");

    // A partial update keeps the type; a replace changes it.
    let partial = org
        .call(
            Method::POST,
            &format!("/api/v1/users/{user_id}"),
            Some(json!({"profile": {"title": "x"}, "type": {"id": default_id}})),
        )
        .await;
    assert_eq!(partial.body["type"]["id"], type_id.as_str());
    let moved = org
        .call(
            Method::PUT,
            &format!("/api/v1/users/{user_id}"),
            Some(json!({"profile": profile("typed-user@example.com"), "type": {"id": default_id}})),
        )
        .await;
    expect(&moved, StatusCode::OK);
    assert_eq!(moved.body["type"]["id"], default_id.as_str());
    let deleted = org.call(Method::DELETE, &path, None).await;
    expect(&deleted, StatusCode::NO_CONTENT);
    let gone = org.call(Method::GET, &path, None).await;
    expect_error(&gone, StatusCode::NOT_FOUND, "E0000007");
    assert_eq!(gone.body["errorSummary"], format!("Not found: Resource not found: {type_id} (CVDType)"));
    let gone_schema = org.call(Method::GET, &format!("/api/v1/meta/schemas/user/{schema_id}"), None).await;
    expect_error(&gone_schema, StatusCode::NOT_FOUND, "E0000007");
}

#[tokio::test]
async fn user_roles_follow_the_recorded_shapes() {
    let org = Org::new().await;
    let url = org.simulator.url();
    let user = org.create_id("", "admin@example.com", true).await;
    let roles = format!("/api/v1/users/{user}/roles");
    let assigned = org.call(Method::POST, &roles, Some(json!({"type": "USER_ADMIN"}))).await;
    expect(&assigned, StatusCode::CREATED);
    let keys: Vec<&str> = assigned.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["id", "label", "type", "status", "created", "lastUpdated", "assignmentType", "_links"]);
    assert_eq!(assigned.body["id"], "KVJUKUS7IFCE2SKO");
    assert_eq!(assigned.body["label"], "Group Administrator");
    assert_eq!(assigned.body["status"], "ACTIVE");
    assert_eq!(assigned.body["assignmentType"], "USER");
    assert_eq!(assigned.body["_links"], json!({"assignee": {"href": format!("{url}/api/v1/users/{user}")}}));

    let super_admin = org
        .call(Method::POST, &format!("{roles}?disableNotifications=false"), Some(json!({"type": "SUPER_ADMIN"})))
        .await;
    expect(&super_admin, StatusCode::CREATED);
    let super_id = super_admin.body["id"].as_str().unwrap().to_owned();
    assert!(super_id.starts_with("ra1") && super_id.len() == 20, "{super_id}");
    let app_admin = org.call(Method::POST, &roles, Some(json!({"type": "APP_ADMIN"}))).await;
    assert_eq!(app_admin.body["id"], "IFIFAX2BIRGUSTQ");
    let workflows = org.call(Method::POST, &roles, Some(json!({"type": "WORKFLOWS_ADMIN"}))).await;
    expect(&workflows, StatusCode::CREATED);
    let workflows_id = workflows.body["id"].as_str().unwrap().to_owned();
    assert!(workflows_id.starts_with("irb"));
    assert_eq!(workflows.body["role"], "WORKFLOWS_ADMIN");
    assert!(workflows.body["resource-set"].is_string());
    for link in ["assignee", "resource-set", "role", "permissions", "member"] {
        assert!(workflows.body["_links"][link]["href"].is_string(), "{link}");
    }

    let duplicate = org.call(Method::POST, &roles, Some(json!({"type": "USER_ADMIN"}))).await;
    expect_error(&duplicate, StatusCode::CONFLICT, "E0000090");
    assert_eq!(duplicate.body["errorSummary"], "The role specified is already assigned to the user.");
    let duplicate_iam = org.call(Method::POST, &roles, Some(json!({"type": "WORKFLOWS_ADMIN"}))).await;
    expect_error(&duplicate_iam, StatusCode::CONFLICT, "E0000263");
    let invalid = org.call(Method::POST, &roles, Some(json!({"type": "KING"}))).await;
    expect_error(&invalid, StatusCode::BAD_REQUEST, "E0000001");
    assert_eq!(invalid.body["errorSummary"], "Api validation failed: type");
    let missing = org.call(Method::POST, &roles, Some(json!({}))).await;
    expect_error(&missing, StatusCode::BAD_REQUEST, "E0000001");
    let custom = org.call(Method::POST, &roles, Some(json!({"type": "CUSTOM"}))).await;
    expect_error(&custom, StatusCode::BAD_REQUEST, "E0000001");
    let custom_unknown =
        org.call(Method::POST, &roles, Some(json!({"type": "CUSTOM", "role": "cr0x", "resource-set": "iamx"}))).await;
    expect_error(&custom_unknown, StatusCode::NOT_FOUND, "E0000007");
    let nobody =
        org.call(Method::POST, "/api/v1/users/00u0000000000000none/roles", Some(json!({"type": "ORG_ADMIN"}))).await;
    expect_error(&nobody, StatusCode::NOT_FOUND, "E0000007");

    // Listed by label (recorded order).
    let listed = org.call(Method::GET, &roles, None).await;
    expect(&listed, StatusCode::OK);
    let types: Vec<&str> = listed.body.as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["APP_ADMIN", "USER_ADMIN", "SUPER_ADMIN", "WORKFLOWS_ADMIN"]);
    assert_eq!(org.simulator.role_assignments(&user), types);
    let one = org.call(Method::GET, &format!("{roles}/{super_id}"), None).await;
    assert_eq!(one.body, super_admin.body);
    let unknown = org.call(Method::GET, &format!("{roles}/NOSUCHROLE"), None).await;
    expect_error(&unknown, StatusCode::NOT_FOUND, "E0000007");
    assert_eq!(unknown.body["errorSummary"], "Not found: Resource not found: NOSUCHROLE (RoleAssignment)");

    let removed = org.call(Method::DELETE, &format!("{roles}/KVJUKUS7IFCE2SKO"), None).await;
    expect(&removed, StatusCode::NO_CONTENT);
    let again = org.call(Method::DELETE, &format!("{roles}/KVJUKUS7IFCE2SKO"), None).await;
    expect_error(&again, StatusCode::NOT_FOUND, "E0000007");
    assert_eq!(again.body["errorSummary"], "Not found: Resource not found: KVJUKUS7IFCE2SKO (RoleAssignment)");

    // A deactivated user keeps its roles; a deleted user loses them.
    expect(&org.call(Method::POST, &format!("/api/v1/users/{user}/lifecycle/deactivate"), None).await, StatusCode::OK);
    assert_eq!(org.simulator.role_assignments(&user).len(), 3);
    assert_eq!(org.call(Method::GET, &roles, None).await.body.as_array().unwrap().len(), 3);
    expect(&org.call(Method::DELETE, &format!("/api/v1/users/{user}"), None).await, StatusCode::NO_CONTENT);
    assert!(org.simulator.role_assignments(&user).is_empty());
    expect_error(&org.call(Method::GET, &roles, None).await, StatusCode::NOT_FOUND, "E0000007");
}

#[tokio::test]
async fn group_roles_and_what_members_see() {
    let org = Org::new().await;
    let url = org.simulator.url();
    let admins = group(&org, "Admins").await;
    let roles = format!("/api/v1/groups/{admins}/roles");
    let app_admin = org.call(Method::POST, &roles, Some(json!({"type": "APP_ADMIN"}))).await;
    expect(&app_admin, StatusCode::CREATED);
    assert_eq!(app_admin.body["assignmentType"], "GROUP");
    assert_eq!(app_admin.body["_links"]["assignee"]["href"], format!("{url}/api/v1/groups/{admins}"));
    let read_only = org.call(Method::POST, &roles, Some(json!({"type": "READ_ONLY_ADMIN"}))).await;
    let read_only_id = read_only.body["id"].as_str().unwrap().to_owned();
    assert!(read_only_id.starts_with("gra") && read_only_id.len() == 20, "{read_only_id}");
    let duplicate = org.call(Method::POST, &roles, Some(json!({"type": "APP_ADMIN"}))).await;
    expect_error(&duplicate, StatusCode::CONFLICT, "E0000090");
    let listed = org.call(Method::GET, &roles, None).await;
    let ids: Vec<&str> = listed.body.as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["IFIFAX2BIRGUSTQ", read_only_id.as_str()]);
    let one = org.call(Method::GET, &format!("{roles}/IFIFAX2BIRGUSTQ"), None).await;
    assert_eq!(one.body, app_admin.body);

    let everyone = org.call(Method::GET, "/api/v1/groups?q=Everyone", None).await;
    let everyone = everyone.body[0]["id"].as_str().unwrap().to_owned();
    let built_in =
        org.call(Method::POST, &format!("/api/v1/groups/{everyone}/roles"), Some(json!({"type": "ORG_ADMIN"}))).await;
    expect_error(&built_in, StatusCode::BAD_REQUEST, "E0000211");
    assert_eq!(built_in.body["errorSummary"], "Roles cannot be granted to built-in groups: Everyone");
    let no_group = org.call(Method::GET, "/api/v1/groups/00g0000000000000none/roles", None).await;
    expect_error(&no_group, StatusCode::NOT_FOUND, "E0000007");

    // A member's listing shows the group's roles beside its own.
    let member = org.create_id("", "member@example.com", true).await;
    expect(
        &org.call(Method::PUT, &format!("/api/v1/groups/{admins}/users/{member}"), None).await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &org.call(Method::POST, &format!("/api/v1/users/{member}/roles"), Some(json!({"type": "REPORT_ADMIN"}))).await,
        StatusCode::CREATED,
    );
    let seen = org.call(Method::GET, &format!("/api/v1/users/{member}/roles"), None).await;
    let seen: Vec<(&str, &str)> = seen
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["type"].as_str().unwrap(), r["assignmentType"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, [("APP_ADMIN", "GROUP"), ("READ_ONLY_ADMIN", "GROUP"), ("REPORT_ADMIN", "USER")]);
    let via_group = org.call(Method::DELETE, &format!("/api/v1/users/{member}/roles/IFIFAX2BIRGUSTQ"), None).await;
    expect_error(&via_group, StatusCode::NOT_FOUND, "E0000007");

    expect(&org.call(Method::DELETE, &format!("{roles}/{read_only_id}"), None).await, StatusCode::NO_CONTENT);
    expect(&org.call(Method::DELETE, &format!("/api/v1/groups/{admins}"), None).await, StatusCode::NO_CONTENT);
    assert!(org.simulator.role_assignments(&admins).is_empty());
    assert_eq!(org.simulator.role_assignments(&member), ["REPORT_ADMIN"]);
}

#[tokio::test]
async fn role_targets_scope_groups_and_apps() {
    let org = Org::new().await;
    let url = org.simulator.url();
    let user = org.create_id("", "scoped-admin@example.com", true).await;
    let roles = format!("/api/v1/users/{user}/roles");
    expect(&org.call(Method::POST, &roles, Some(json!({"type": "USER_ADMIN"}))).await, StatusCode::CREATED);
    expect(&org.call(Method::POST, &roles, Some(json!({"type": "APP_ADMIN"}))).await, StatusCode::CREATED);
    expect(&org.call(Method::POST, &roles, Some(json!({"type": "ORG_ADMIN"}))).await, StatusCode::CREATED);
    let first = group(&org, "Target one").await;
    let second = group(&org, "Target two").await;
    let targets = format!("{roles}/KVJUKUS7IFCE2SKO/targets/groups");
    let empty = org.call(Method::GET, &targets, None).await;
    expect(&empty, StatusCode::OK);
    assert_eq!(empty.body, json!([]));
    assert!(empty.header("link").is_some_and(|link| link.ends_with("rel=\"self\"")));
    for id in [&second, &first, &first] {
        expect(&org.call(Method::PUT, &format!("{targets}/{id}"), None).await, StatusCode::NO_CONTENT);
    }
    let listed = org.call(Method::GET, &targets, None).await;
    let ids: Vec<&str> = listed.body.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first.as_str(), second.as_str()], "target groups in id order");
    assert_eq!(listed.body[0]["_links"]["users"]["href"], format!("{url}/api/v1/groups/{first}/users"));
    let page = org.call(Method::GET, &format!("{targets}?limit=1"), None).await;
    assert_eq!(page.body.as_array().unwrap().len(), 1);
    let next = page.next_link().expect("next");
    let rest = org.call(Method::GET, &next, None).await;
    assert_eq!(rest.body[0]["id"], second.as_str());
    assert!(rest.next_link().is_none());

    let missing_group = org.call(Method::PUT, &format!("{targets}/00g0000000000000none"), None).await;
    expect_error(&missing_group, StatusCode::NOT_FOUND, "E0000007");
    let missing_role = org.call(Method::GET, &format!("{roles}/NOSUCHROLE/targets/groups"), None).await;
    expect_error(&missing_role, StatusCode::NOT_FOUND, "E0000007");
    expect(&org.call(Method::DELETE, &format!("{targets}/{first}"), None).await, StatusCode::NO_CONTENT);
    let last = org.call(Method::DELETE, &format!("{targets}/{second}"), None).await;
    expect_error(&last, StatusCode::BAD_REQUEST, "E0000001");
    assert_eq!(last.body["errorSummary"], "Api validation failed: targets");

    // Targets of the wrong kind for the role type.
    let wrong = org.call(Method::PUT, &format!("{roles}/IFIFAX2BIRGUSTQ/targets/groups/{first}"), None).await;
    expect_error(&wrong, StatusCode::BAD_REQUEST, "E0000091");
    assert_eq!(wrong.body["errorSummary"], "The provided role type was not the same as required role type.");
    let org_admin = org.call(Method::GET, &roles, None).await;
    let org_admin = org_admin.body.as_array().unwrap().iter().find(|r| r["type"] == "ORG_ADMIN").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let untargetable = org.call(Method::PUT, &format!("{roles}/{org_admin}/targets/groups/{first}"), None).await;
    expect_error(&untargetable, StatusCode::BAD_REQUEST, "E0000091");
    let apps_on_user_admin =
        org.call(Method::PUT, &format!("{roles}/KVJUKUS7IFCE2SKO/targets/catalog/apps/facebook"), None).await;
    expect_error(&apps_on_user_admin, StatusCode::BAD_REQUEST, "E0000091");

    // App targets of APP_ADMIN.
    let apps = format!("{roles}/IFIFAX2BIRGUSTQ/targets/catalog/apps");
    for app in ["facebook", "oidc_client"] {
        expect(&org.call(Method::PUT, &format!("{apps}/{app}"), None).await, StatusCode::NO_CONTENT);
    }
    let listed = org.call(Method::GET, &format!("{apps}?limit=200&status=ACTIVE"), None).await;
    expect(&listed, StatusCode::OK);
    let names: Vec<&str> = listed.body.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["oidc_client", "facebook"]);
    assert_eq!(listed.body[1]["_links"]["self"]["href"], format!("{url}/api/v1/catalog/apps/facebook"));
    expect(&org.call(Method::DELETE, &format!("{apps}/facebook"), None).await, StatusCode::NO_CONTENT);
    expect_error(
        &org.call(Method::DELETE, &format!("{apps}/oidc_client"), None).await,
        StatusCode::BAD_REQUEST,
        "E0000001",
    );
    let all = org.call(Method::PUT, &apps, None).await;
    expect(&all, StatusCode::OK);
    assert_eq!(org.call(Method::GET, &apps, None).await.body, json!([]));

    // The same under a group's role; deleting a target group drops it from the targets.
    let helpers = group(&org, "Helpers").await;
    let group_roles = format!("/api/v1/groups/{helpers}/roles");
    let help_desk = org.call(Method::POST, &group_roles, Some(json!({"type": "HELP_DESK_ADMIN"}))).await;
    assert_eq!(help_desk.body["id"], "JBCUYUC7IRCVGS27IFCE2SKO");
    let group_targets = format!("{group_roles}/JBCUYUC7IRCVGS27IFCE2SKO/targets/groups");
    for id in [&first, &second] {
        expect(&org.call(Method::PUT, &format!("{group_targets}/{id}"), None).await, StatusCode::NO_CONTENT);
    }
    expect(&org.call(Method::DELETE, &format!("/api/v1/groups/{first}"), None).await, StatusCode::NO_CONTENT);
    let remaining = org.call(Method::GET, &group_targets, None).await;
    let ids: Vec<&str> = remaining.body.as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.as_str()]);
    let group_app_admin = org.call(Method::POST, &group_roles, Some(json!({"type": "APP_ADMIN"}))).await;
    expect(&group_app_admin, StatusCode::CREATED);
    let group_apps = format!("{group_roles}/IFIFAX2BIRGUSTQ/targets/catalog/apps");
    expect(&org.call(Method::PUT, &format!("{group_apps}/facebook"), None).await, StatusCode::NO_CONTENT);
    assert_eq!(org.call(Method::GET, &group_apps, None).await.body[0]["name"], "facebook");
    let all_for_group = org.call(Method::PUT, &group_apps, None).await;
    expect_error(&all_for_group, StatusCode::METHOD_NOT_ALLOWED, "E0000022");
}

#[tokio::test]
async fn new_endpoints_need_their_scopes_and_use_okta_buckets() {
    let org = Org::new().await;
    let user = org.create_id("", "bucket@example.com", true).await;
    let admins = group(&org, "Bucket admins").await;
    org.simulator.clear_requests();
    org.call(Method::GET, &format!("/api/v1/users/{user}/roles"), None).await;
    org.call(Method::POST, &format!("/api/v1/groups/{admins}/roles"), Some(json!({"type": "USER_ADMIN"}))).await;
    org.call(Method::GET, &format!("/api/v1/groups/{admins}/roles/KVJUKUS7IFCE2SKO/targets/groups"), None).await;
    org.call(Method::GET, SCHEMA, None).await;
    org.call(Method::GET, TYPES, None).await;
    let buckets: Vec<String> = org.simulator.requests().into_iter().map(|record| record.bucket).collect();
    assert_eq!(buckets, ["/api/v1/users", "/api/v1/groups", "/api/v1/groups", "/api/v1", "/api/v1"]);

    let scoped = [
        (
            "roles-reader",
            "okta.roles.read",
            Method::GET,
            format!("/api/v1/users/{user}/roles"),
            Method::POST,
            "okta.roles.manage",
        ),
        ("schema-reader", "okta.schemas.read", Method::GET, SCHEMA.to_owned(), Method::POST, "okta.schemas.manage"),
        ("types-reader", "okta.userTypes.read", Method::GET, TYPES.to_owned(), Method::POST, "okta.userTypes.manage"),
    ];
    for (token, scope, read, path, write, needed) in scoped {
        org.simulator.add_api_token(token, Some(vec![scope.into()]));
        let auth = format!("SSWS {token}");
        expect(&org.call_with(read, &path, None, &auth).await, StatusCode::OK);
        let refused = org.call_with(write, &path, Some(json!({})), &auth).await;
        expect_error(&refused, StatusCode::FORBIDDEN, "E0000006");
        assert!(refused.causes()[0].contains(needed), "{}", refused.body);
    }
    let wrong_method = org.call(Method::PATCH, SCHEMA, None).await;
    expect_error(&wrong_method, StatusCode::METHOD_NOT_ALLOWED, "E0000022");
    let wrong_role_method = org.call(Method::PUT, &format!("/api/v1/users/{user}/roles"), None).await;
    expect_error(&wrong_role_method, StatusCode::METHOD_NOT_ALLOWED, "E0000022");
}

#[tokio::test]
async fn schema_types_and_roles_survive_a_restart() {
    let directory = std::env::temp_dir().join(format!("okta-sim-schema-roles-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("directory");
    let file = directory.join("org.json");
    let _ = std::fs::remove_file(&file);
    let config = SimulatorConfig {
        state_file: Some(file.clone()),
        api_token: Some("kept".into()),
        ..SimulatorConfig::default()
    };
    let org = Org::start(config.clone()).await;
    expect(&define(&org, json!({"badge": {"title": "Badge", "type": "string", "unique": true}})).await, StatusCode::OK);
    let created = org.call(Method::POST, TYPES, Some(json!({"name": "partner", "displayName": "Partner"}))).await;
    let type_id = created.body["id"].as_str().unwrap().to_owned();
    let user = org
        .call(
            Method::POST,
            "/api/v1/users",
            Some(json!({"profile": {"login": "kept@example.com", "email": "kept@example.com", "firstName": "K",
                                    "lastName": "P", "badge": "B1"}, "type": {"id": type_id}})),
        )
        .await;
    expect(&user, StatusCode::OK);
    let user_id = user.body["id"].as_str().unwrap().to_owned();
    let admins = group(&org, "Kept admins").await;
    let targets = group(&org, "Kept targets").await;
    expect(
        &org.call(Method::POST, &format!("/api/v1/users/{user_id}/roles"), Some(json!({"type": "HELP_DESK_ADMIN"})))
            .await,
        StatusCode::CREATED,
    );
    expect(
        &org.call(
            Method::PUT,
            &format!("/api/v1/users/{user_id}/roles/JBCUYUC7IRCVGS27IFCE2SKO/targets/groups/{targets}"),
            None,
        )
        .await,
        StatusCode::NO_CONTENT,
    );
    expect(
        &org.call(Method::POST, &format!("/api/v1/groups/{admins}/roles"), Some(json!({"type": "SUPER_ADMIN"}))).await,
        StatusCode::CREATED,
    );
    let schema_before = org.call(Method::GET, SCHEMA, None).await.body;
    let Org { simulator, .. } = org;
    simulator.shutdown().await;

    let reloaded = Org::start(config).await;
    let schema_after = reloaded.call(Method::GET, SCHEMA, None).await.body;
    assert_eq!(schema_after["definitions"], schema_before["definitions"]);
    assert_eq!(schema_after["lastUpdated"], schema_before["lastUpdated"]);
    let kept_type = reloaded.call(Method::GET, &format!("{TYPES}/{type_id}"), None).await;
    expect(&kept_type, StatusCode::OK);
    let kept_user = reloaded.call(Method::GET, &format!("/api/v1/users/{user_id}"), None).await;
    assert_eq!(kept_user.body["type"]["id"], type_id.as_str());
    assert_eq!(kept_user.body["profile"]["badge"], "B1");
    assert_eq!(reloaded.simulator.role_assignments(&user_id), ["HELP_DESK_ADMIN"]);
    assert_eq!(reloaded.simulator.role_assignments(&admins), ["SUPER_ADMIN"]);
    let kept_targets = reloaded
        .call(Method::GET, &format!("/api/v1/users/{user_id}/roles/JBCUYUC7IRCVGS27IFCE2SKO/targets/groups"), None)
        .await;
    assert_eq!(kept_targets.body[0]["id"], targets.as_str());
    let taken = create_with(&reloaded, "other@example.com", json!({"badge": "b1"})).await;
    expect_error(&taken, StatusCode::BAD_REQUEST, "E0000001");
    drop(reloaded);
    let _ = std::fs::remove_dir_all(&directory);
}
