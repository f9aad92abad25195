// Reference token ids from Hugging Face tokenizers (the @lenml/tokenizers port of
// transformers.js), for the conformance tests in tokenizer_conformance_test.cpp.
//
//   node reference.mjs <npm dir> <jobs.json>
//
// jobs.json: {"corpus": "<corpus.json>", "jobs": [{"name", "tokenizer", "config",
//   "plain"?, "pre_tokenizer"?, "ignore_merges"?}]}
//   plain:         drop added_tokens, so special-token texts are tokenized as text
//                  (what vkinfer's encode does without parse_special);
//   pre_tokenizer: replaces the file's pre_tokenizer section;
//   ignore_merges: replaces model.ignore_merges.
// Prints {"<job name>": [{"ids", "ids_special", "decoded"} per corpus entry]}: ids without
// and with the post-processor's special tokens, and ids decoded back to text.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const [npmDir, jobsPath] = process.argv.slice(2);
const require = createRequire(join(npmDir, "package.json"));
const { TokenizerLoader } = require("@lenml/tokenizers");

const spec = JSON.parse(readFileSync(jobsPath, "utf8"));
const corpus = JSON.parse(readFileSync(spec.corpus, "utf8")).map((e) => e.text.repeat(e.repeat ?? 1));

const result = {};
for (const job of spec.jobs) {
  const tokenizerJSON = JSON.parse(readFileSync(job.tokenizer, "utf8"));
  const tokenizerConfig = job.config ? JSON.parse(readFileSync(job.config, "utf8")) : {};
  if (job.plain) tokenizerJSON.added_tokens = [];
  if (job.pre_tokenizer !== undefined) tokenizerJSON.pre_tokenizer = job.pre_tokenizer;
  if (job.ignore_merges !== undefined) tokenizerJSON.model.ignore_merges = job.ignore_merges;
  const tokenizer = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  result[job.name] = corpus.map((text) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    const idsSpecial = tokenizer.encode(text, { add_special_tokens: true });
    const decoded =
      ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    return { ids, ids_special: idsSpecial, decoded };
  });
}
process.stdout.write(JSON.stringify(result));
