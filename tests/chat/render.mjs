// Oracle for the chat-template tests: renders templates with Hugging Face's @huggingface/jinja.
//   node render.mjs <npm dir> <request.json>
// The request is {"cases": [{template, messages, add_generation_prompt, bos_token, eos_token,
// variables}]}; stdout gets one JSON array with {"ok": true, "output": ...} or
// {"ok": false, "error": ...} per case, in order.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";

const [npmDir, requestPath] = process.argv.slice(2);
const require = createRequire(join(resolve(npmDir), "package.json"));
const { Template } = require("@huggingface/jinja");

const request = JSON.parse(readFileSync(requestPath, "utf8"));
const results = request.cases.map((c) => {
    try {
        const template = new Template(c.template);
        const output = template.render({
            messages: c.messages,
            add_generation_prompt: c.add_generation_prompt,
            bos_token: c.bos_token,
            eos_token: c.eos_token,
            ...(c.variables ?? {}),
        });
        return { ok: true, output };
    } catch (e) {
        return { ok: false, error: String(e?.message ?? e) };
    }
});
process.stdout.write(JSON.stringify(results));
