// Builds tests/vectors/tcf.json: real TC strings made with the IAB Tech Lab's own
// encoder (@iabtechlabtcf/core), plus what the IAB's own decoder reads back, so the
// Rust decoder (src/consent/tcf.rs) is checked against the reference implementation.
//
// Regenerate (needs network access to the npm registry once):
//   mkdir -p /tmp/tcf && cd /tmp/tcf && npm i @iabtechlabtcf/core@1.5.21
//   NODE_PATH=/tmp/tcf/node_modules node tests/vectors/make-tcf.mjs > tests/vectors/tcf.json
//
// Two kinds of strings:
// - "cmp": TCString.encode with a GVL, the path a compliant CMP takes. Its semantic
//   pre-encoder clears legitimate interest for purposes 1 and 3-6 (TCF v2.2).
// - "raw": SegmentEncoder.encode on the core segment only, the IAB's bit encoder without
//   the semantic pass. This is how we get v2.2 strings with LI bits set for P3-P6, as a
//   non-compliant or old CMP may send them: our mapping must not let them grant anything.
import { createRequire } from "node:module";
import path from "node:path";
import { readFileSync } from "node:fs";

const require = createRequire(path.join(process.env.NODE_PATH ?? ".", "x.js"));
const tcf = require("@iabtechlabtcf/core");
const { GVL, TCModel, TCString, SegmentEncoder, Segment, PurposeRestriction, RestrictionType } = tcf;

function pkgVersion() {
  const main = require.resolve("@iabtechlabtcf/core");
  const dir = main.slice(0, main.lastIndexOf("/lib/"));
  return JSON.parse(readFileSync(dir + "/package.json", "utf8")).version;
}

const CREATED = new Date(Date.UTC(2026, 10, 24, 12, 0, 0)); // fixed: reproducible output

function vendor(id, purposes, legIntPurposes, flexiblePurposes = []) {
  return {
    id,
    name: `Vendor ${id}`,
    purposes,
    legIntPurposes,
    flexiblePurposes,
    specialPurposes: [],
    features: [],
    specialFeatures: [],
    policyUrl: "https://example.com/privacy",
    cookieMaxAgeSeconds: 86400,
    usesCookies: true,
    cookieRefresh: false,
    usesNonCookieAccess: false,
  };
}

function gvl(tcfPolicyVersion) {
  const purposes = {};
  for (let i = 1; i <= 11; i++) purposes[i] = { id: i, name: `P${i}`, description: "" };
  const vendors = {};
  for (const id of [1, 3, 4, 8, 755]) {
    vendors[id] = vendor(id, [1, 3, 4, 5, 6, 7, 8, 9, 10], [2, 7, 8, 9, 10], id === 755 ? [2, 7, 8, 9, 10] : []);
  }
  const g = new GVL({
    gvlSpecificationVersion: 3,
    vendorListVersion: 150,
    tcfPolicyVersion, // 4 = TCF v2.2; the encoder takes the policy version from here
    lastUpdated: "2026-11-20T16:00:00Z",
    purposes,
    specialPurposes: {},
    features: {},
    specialFeatures: { 1: { id: 1, name: "SF1" }, 2: { id: 2, name: "SF2" } },
    stacks: {},
    dataCategories: {},
    vendors,
  });
  return g;
}

// restrictions: [vendorId, purposeId, RestrictionType] triples (publisher restrictions).
function model({ consents = [], lis = [], vendors = [], vendorLis = [], specialFeatures = [], policyVersion = 4, cmpId = 300, restrictions = [] }) {
  const m = new TCModel(gvl(policyVersion));
  m.cmpId = cmpId;
  m.cmpVersion = 7;
  m.consentScreen = 1;
  m.consentLanguage = "EN";
  m.publisherCountryCode = "DE";
  m.isServiceSpecific = true;
  m.purposeConsents.set(consents);
  m.purposeLegitimateInterests.set(lis);
  m.vendorConsents.set(vendors);
  m.vendorLegitimateInterests.set(vendorLis);
  m.specialFeatureOptins.set(specialFeatures);
  for (const [vendorId, purposeId, type] of restrictions) {
    m.publisherRestrictions.add(vendorId, new PurposeRestriction(purposeId, type));
  }
  m.created = CREATED;
  m.lastUpdated = CREATED;
  return m;
}

function range(a, b) {
  const out = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

function ids(vector) {
  const out = [];
  vector.forEach((value, id) => { if (value) out.push(id); });
  return out;
}

function readBack(tcString) {
  const m = TCString.decode(tcString);
  return {
    version: m.version,
    created_ds: Math.round(m.created.getTime() / 100),
    cmp_id: m.cmpId,
    cmp_version: m.cmpVersion,
    consent_language: m.consentLanguage,
    vendor_list_version: m.vendorListVersion,
    policy_version: m.policyVersion,
    is_service_specific: m.isServiceSpecific,
    purpose_one_treatment: m.purposeOneTreatment,
    publisher_cc: m.publisherCountryCode,
    special_features: ids(m.specialFeatureOptins),
    purpose_consents: ids(m.purposeConsents),
    purpose_legitimate_interests: ids(m.purposeLegitimateInterests),
    vendor_consents: ids(m.vendorConsents),
    vendor_legitimate_interests: ids(m.vendorLegitimateInterests),
    publisher_restrictions: m.publisherRestrictions.getRestrictions().map((pr) => ({
      purpose: pr.purposeId,
      type: pr.restrictionType,
      vendors: m.publisherRestrictions.getVendors(pr),
    })),
  };
}

// Which encoding did the IAB encoder choose for the vendor consent section?
function vendorEncoding(tcString) {
  const bits = tcf.Base64Url.decode(tcString.split(".")[0]);
  return bits[213 + 16] === "1" ? "range" : "bitfield";
}

const ALL = range(1, 10);
const cases = [];
function add(name, how, m, expect) {
  const tc_string = how === "cmp" ? TCString.encode(m) : SegmentEncoder.encode(m, Segment.CORE);
  cases.push({
    name,
    how,
    tc_string,
    vendor_encoding: vendorEncoding(tc_string),
    iab: readBack(tc_string),
    // Our mapping's expected outcome (vendor 755 configured), see src/consent.rs.
    expect,
  });
}

add("all purposes, vendor 755", "cmp",
  model({ consents: ALL, lis: [2, 7, 8, 9, 10], vendors: [755], vendorLis: [755], specialFeatures: [1] }),
  { personalization: true, measurement: true, advertising: true });
add("nothing consented", "cmp", model({}),
  { personalization: false, measurement: false, advertising: false });
add("personalised content only (P1, P5, P6)", "cmp",
  model({ consents: [1, 5, 6], vendors: [755] }),
  { personalization: true, measurement: false, advertising: false });
add("measurement by legitimate interest (P1 consent, P7-P9 LI)", "cmp",
  model({ consents: [1], lis: [7, 8, 9], vendors: [755], vendorLis: [755] }),
  { personalization: false, measurement: true, advertising: false });
add("all purposes but vendor 755 refused", "cmp",
  model({ consents: ALL, lis: [2, 7, 8, 9, 10], vendors: [1, 3, 4, 8] }),
  { personalization: false, measurement: false, advertising: false });
add("cmp encoder strips LI for P3-P6", "cmp",
  model({ consents: [1], lis: range(2, 10), vendors: [755], vendorLis: [755] }),
  { personalization: false, measurement: true, advertising: false });
add("v2.2 raw: LI bits set for P3-P6, no consent for them", "raw",
  model({ consents: [1], lis: range(2, 10), vendors: [755], vendorLis: [755] }),
  { personalization: false, measurement: true, advertising: false });
add("v2.2 raw: LI bits for P1-P6 only, nothing consented", "raw",
  model({ lis: range(1, 6), vendors: [755], vendorLis: [755] }),
  { personalization: false, measurement: false, advertising: false });
add("raw: vendor consents as a range encoding (1-700, 755)", "raw",
  model({ consents: ALL, vendors: [...range(1, 700), 755], vendorLis: range(2, 40) }),
  { personalization: true, measurement: true, advertising: true });
add("raw: vendor consent range without 755", "raw",
  model({ consents: ALL, vendors: [...range(1, 700), 800, 801, 802, 803, 804, 805, 806, 807, 808, 809, 810, 900], vendorLis: [] }),
  { personalization: false, measurement: false, advertising: false });
add("raw: bitfield with many vendors", "raw",
  model({ consents: ALL, lis: [2, 7, 8, 9, 10], vendors: range(1, 800).filter((v) => v % 3 !== 0), vendorLis: range(1, 60).filter((v) => v % 2 === 0) }),
  // 755 % 3 != 0, so vendor 755 has consent.
  { personalization: true, measurement: true, advertising: true });
add("raw: policy version 2 (TCF v2.0) with LI for P3-P6", "raw",
  model({ consents: [1], lis: range(2, 10), vendors: [755], vendorLis: [755], policyVersion: 2 }),
  { personalization: false, measurement: true, advertising: false });

add("publisher restriction: P5 not allowed for vendor 755", "cmp",
  model({ consents: ALL, lis: [2, 7, 8, 9, 10], vendors: [1, 755], vendorLis: [755],
    restrictions: [[755, 5, RestrictionType.NOT_ALLOWED], [1, 5, RestrictionType.NOT_ALLOWED], [3, 6, RestrictionType.NOT_ALLOWED]] }),
  { personalization: false, measurement: true, advertising: true });
add("publisher restriction: P7-P9 require consent, only LI given", "cmp",
  model({ consents: [1, 5, 6], lis: [7, 8, 9], vendors: [755], vendorLis: [755],
    restrictions: [7, 8, 9].map((p) => [755, p, RestrictionType.REQUIRE_CONSENT]) }),
  { personalization: true, measurement: false, advertising: false });
add("publisher restriction: P8 requires LI, consent given for P8 only", "cmp",
  model({ consents: [1, 8], lis: [], vendors: [755], vendorLis: [755],
    restrictions: [[755, 8, RestrictionType.REQUIRE_LI]] }),
  { personalization: false, measurement: false, advertising: false });

process.stdout.write(JSON.stringify({
  generator: "@iabtechlabtcf/core " + pkgVersion() + " via tests/vectors/make-tcf.mjs",
  vendor_id: 755,
  cases,
}, null, 2) + "\n");
