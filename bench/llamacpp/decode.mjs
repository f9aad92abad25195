// node decode.mjs <node_modules dir> <model.gguf> <prompt tokens> <n> [prompt ids]
//
// llama.cpp's side of vkinfer_bench_decode: loads the GGUF in llama.cpp's Vulkan
// backend (node-llama-cpp's prebuilt binary, every layer offloaded), evaluates a
// prompt of <prompt tokens> tokens in one batch, then decodes <n> tokens greedily,
// each step feeding the previous argmax (end-of-generation tokens included, as ours).
// A warm-up pass of the same prompt and two decode steps runs first and is not timed.
// The prompt is the comma-separated ids when given (vkinfer_bench_decode passes its
// own), otherwise promptIds() below, the same rule as bench/decode.cpp.
//
// Prints one JSON line on stdout: {"gpu", "device", "gpu_layers", "layers",
// "prompt_tokens", "prompt_tok_per_s", "ttft_ms", "decode_tokens", "decode_tok_per_s",
// "tokens", "llama_cpp", "node_llama_cpp"}; or {"error"} and exits 1 when the model cannot run on
// Vulkan. It never falls back to the CPU.
//
// llama.cpp skips CPU-type Vulkan devices (lavapipe) unless GGML_VK_VISIBLE_DEVICES
// names them: it is set to 0 here when not set (vkinfer_bench_decode sets it to the
// index of the device it benchmarked).
import {pathToFileURL} from "node:url";
import path from "node:path";
import fs from "node:fs";
import {performance} from "node:perf_hooks";

function fail(message) {
    console.log(JSON.stringify({error: message}));
    process.exit(1);
}

// BOS (when the model has one), then ids spread over the vocabulary above the
// byte/control range; keep in sync with promptIds() in bench/decode.cpp.
function promptIds(count, nVocab, bos) {
    const first = Math.min(1000, Math.floor(nVocab / 2));
    const ids = [];
    for (let i = 0; i < count; ++i) ids.push(first + ((i * 7919) % (nVocab - first)));
    if (count > 0 && bos != null) ids[0] = bos;
    return ids;
}

const [modulesArg, modelPath, promptArg, nArg, idsArg] = process.argv.slice(2);
if (!modulesArg || !modelPath || !promptArg || !nArg)
    fail("usage: node decode.mjs <node_modules dir> <model.gguf> <prompt tokens> <n> [prompt ids]");
const promptCount = Number.parseInt(promptArg, 10);
const n = Number.parseInt(nArg, 10);
if (!(promptCount >= 1) || !(n >= 1)) fail("prompt tokens and n must be positive integers");

let modules = path.resolve(modulesArg);
if (!fs.existsSync(path.join(modules, "node-llama-cpp")) && fs.existsSync(path.join(modules, "node_modules")))
    modules = path.join(modules, "node_modules");
const entry = path.join(modules, "node-llama-cpp/dist/index.js");
if (!fs.existsSync(entry)) fail(`node-llama-cpp not found in ${modulesArg} (run bench/llamacpp/install.sh DIR)`);

if (process.env.GGML_VK_VISIBLE_DEVICES === undefined) process.env.GGML_VK_VISIBLE_DEVICES = "0";

try {
    const {getLlama, LlamaLogLevel} = await import(pathToFileURL(entry).href);
    let llama;
    try {
        llama = await getLlama({gpu: "vulkan", build: "never", skipDownload: true, logLevel: LlamaLogLevel.error});
    } catch (e) {
        fail(
            `llama.cpp's Vulkan build cannot be used: ${e?.message || e?.name || e}` +
                ` (is @node-llama-cpp/linux-x64-vulkan installed? bench/llamacpp/install.sh DIR)`,
        );
    }
    if (llama.gpu !== "vulkan") fail(`llama.cpp loaded without Vulkan (gpu: ${llama.gpu}); not benchmarking the CPU`);
    const devices = await llama.getGpuDeviceNames();
    if (devices.length === 0)
        fail(`llama.cpp's Vulkan backend sees no device (GGML_VK_VISIBLE_DEVICES=${process.env.GGML_VK_VISIBLE_DEVICES})`);

    const model = await llama.loadModel({modelPath, gpuLayers: "max"});
    const layers = model.fileInsights.totalLayers;
    if (model.gpuLayers < layers) fail(`llama.cpp offloaded ${model.gpuLayers} of ${layers} layers`);
    const embedding = model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight");
    const nVocab = Number(embedding?.dimensions?.[1] ?? 0);
    if (!idsArg && !(nVocab > 0)) fail("cannot find the vocabulary size (token_embd.weight); pass the prompt ids");
    const ids = idsArg
        ? idsArg.split(",").map((s) => Number.parseInt(s, 10))
        : promptIds(promptCount, nVocab, model.tokens.bos);
    if (ids.length !== promptCount || ids.some((t) => !Number.isInteger(t)))
        fail(`expected ${promptCount} comma-separated prompt ids`);

    // Room for the prompt and n + 1 generated tokens; one batch holds the whole prompt.
    const context = await model.createContext({
        contextSize: promptCount + n + 8,
        batchSize: Math.max(promptCount, 1),
        sequences: 1,
    });
    const sequence = context.getSequence();
    const options = {temperature: 0, yieldEogToken: true};

    // Returns the generated tokens (the prompt's argmax, then n decode steps) and the
    // times after the prompt and after the last step.
    async function run(steps) {
        const start = performance.now();
        const it = sequence.evaluate(ids, options);
        const tokens = [];
        let r = await it.next();
        const prompted = performance.now();
        tokens.push(r.value);
        for (let i = 0; i < steps && !r.done; ++i) {
            r = await it.next();
            if (!r.done) tokens.push(r.value);
        }
        const end = performance.now();
        await it.return();
        return {tokens, promptMs: prompted - start, decodeMs: end - prompted};
    }

    await run(2);
    await sequence.clearHistory();
    const result = await run(n);
    if (result.tokens.length !== n + 1) fail(`llama.cpp stopped after ${result.tokens.length - 1} of ${n} decode steps`);
    const release = llama.llamaCppRelease;
    console.log(
        JSON.stringify({
            gpu: llama.gpu,
            device: devices.join(", "),
            gpu_layers: model.gpuLayers,
            layers,
            prompt_tokens: promptCount,
            prompt_tok_per_s: promptCount / (result.promptMs / 1000),
            ttft_ms: result.promptMs,
            decode_tokens: n,
            decode_tok_per_s: n / (result.decodeMs / 1000),
            tokens: result.tokens,
            llama_cpp: `${release.repo}@${release.release}`,
            node_llama_cpp: JSON.parse(fs.readFileSync(path.join(modules, "node-llama-cpp/package.json"), "utf8")).version,
        }),
    );
    await context.dispose();
    await model.dispose();
    await llama.dispose();
} catch (e) {
    fail(String(e?.message ?? e));
}
