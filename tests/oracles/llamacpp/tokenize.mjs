// node tokenize.mjs <node_modules dir> <text> <model.gguf>...
// Loads each model in llama.cpp (CPU) and prints one JSON line per model:
// {"model": path, "ids": [...]} with the text tokenized without BOS, or {"model", "error"}.
import {pathToFileURL} from "node:url";
import path from "node:path";

const [modules, text, ...models] = process.argv.slice(2);
const {getLlama, LlamaLogLevel} = await import(pathToFileURL(path.join(modules, "node-llama-cpp/dist/index.js")).href);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
for (const modelPath of models) {
    try {
        const model = await llama.loadModel({modelPath});
        console.log(JSON.stringify({model: modelPath, ids: Array.from(model.tokenize(text, false))}));
        await model.dispose();
    } catch (e) {
        console.log(JSON.stringify({model: modelPath, error: String(e)}));
    }
}
