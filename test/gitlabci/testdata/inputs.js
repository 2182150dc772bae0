// Static checks GitLab makes and gitlab-ci-local does not (it does not
// validate the header against GitLab's schema, accepts unknown input keys and
// validates only inputs that are interpolated):
//   * the header has only spec:inputs, each input only the keys of GitLab's
//     schema (type, description ≤ 1024, options, regex, default, rules), a
//     known type, and a default of that type, among the options and matching
//     the regex;
//   * every declared input is used in the template body;
//   * every input given to a component in an example is declared by it, has
//     the declared type, is among the options and matches the regex;
//   * every required input (no default) is given.
// Usage: node inputs.js TEMPLATES_DIR EXAMPLE... (NODE_PATH must find js-yaml,
// which gitlab-ci-local installs). Prints one line per problem; exit 1 if any.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

const [templatesDir, ...examples] = process.argv.slice(2);
const problems = [];
const specs = {};
for (const f of fs.readdirSync(templatesDir).filter((f) => f.endsWith(".yml"))) {
  const name = f.replace(/\.yml$/, "");
  const text = fs.readFileSync(path.join(templatesDir, f), "utf8");
  const docs = yaml.loadAll(text);
  const inputs = (docs[0] && docs[0].spec && docs[0].spec.inputs) || {};
  specs[name] = inputs;
  for (const k of Object.keys(docs[0] || {})) if (k !== "spec") problems.push(`templates/${f}: header key ${k}`);
  for (const k of Object.keys((docs[0] && docs[0].spec) || {})) if (k !== "inputs") problems.push(`templates/${f}: spec:${k} is not in GitLab's schema`);
  for (const [id, def] of Object.entries(inputs)) {
    const where = `templates/${f}: input ${id}`;
    for (const k of Object.keys(def || {})) {
      if (!["type", "description", "options", "regex", "default", "rules"].includes(k)) problems.push(`${where}: unknown key ${k}`);
    }
    if (def && def.description && def.description.length > 1024) problems.push(`${where}: description longer than 1024`);
    if (def && "type" in def && !["string", "number", "boolean", "array"].includes(def.type)) problems.push(`${where}: type ${def.type}`);
    if (def && "default" in def) problems.push(...checkValue(where + " default", def, def.default));
  }
  const body = text.slice(text.indexOf("\n---\n"));
  for (const id of Object.keys(inputs)) {
    if (!new RegExp("\\$\\[\\[\\s*inputs\\." + id.replace(/[-]/g, "\\-") + "\\s*\\]\\]").test(body)) {
      problems.push(`templates/${f}: input ${id} is declared but never used`);
    }
  }
}
for (const ex of examples) {
  const doc = yaml.load(fs.readFileSync(ex, "utf8")) || {};
  let includes = doc.include || [];
  if (!Array.isArray(includes)) includes = [includes];
  for (const inc of includes) {
    if (!inc || typeof inc !== "object" || !inc.component) continue;
    const m = /\/([a-z-]+)@[^/]+$/.exec(inc.component);
    const name = m && m[1];
    const spec = specs[name];
    if (!spec) {
      problems.push(`${path.basename(ex)}: no component ${name}`);
      continue;
    }
    const given = inc.inputs || {};
    for (const [k, v] of Object.entries(given)) {
      if (!(k in spec)) problems.push(`${path.basename(ex)}: ${name} has no input ${k}`);
      else problems.push(...checkValue(`${path.basename(ex)}: ${name} input ${k}`, spec[k], v));
    }
    for (const [k, v] of Object.entries(spec)) {
      if (!(v && "default" in v) && !(k in given)) problems.push(`${path.basename(ex)}: ${name} needs input ${k}`);
    }
  }
}
function checkValue(where, def, v) {
  const type = (def && def.type) || "string";
  const got = Array.isArray(v) ? "array" : typeof v;
  if (got !== type) return [`${where}: ${JSON.stringify(v)} is not a ${type}`];
  const out = [];
  if (def.options && !def.options.includes(v)) out.push(`${where}: ${JSON.stringify(v)} is not among the options`);
  if (def.regex && !new RegExp(def.regex).test(String(v))) out.push(`${where}: ${JSON.stringify(v)} does not match ${def.regex}`);
  return out;
}

for (const p of problems) console.log(p);
process.exit(problems.length ? 1 : 0);
