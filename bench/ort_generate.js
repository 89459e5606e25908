// ort_generate.js MODEL.onnx PROMPT NEW THREADS [REPEATS] - ONNX Runtime (CPU) generating with a
// KV-cache model: a prefill of PROMPT tokens with an empty past, then NEW greedy one-token steps
// that feed each step's present outputs back as the next past, as a generator built on ONNX
// Runtime does. Prints "ort prefill_tok_s <x> decode_tok_s <y>" (the best of REPEATS runs, after
// a warm-up). The tokens are the same fixed sequence qopt's benchmark uses.
const path = require('path');
const ort = require(path.join(__dirname, '..', 'test', 'oracle', 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, promptArg, newArg, threadsArg, repeatsArg] = process.argv.slice(2);
  const prompt = Number(promptArg), fresh = Number(newArg), threads = Number(threadsArg);
  const repeats = Number(repeatsArg || 3);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential', logSeverityLevel: 3,
  });
  const pasts = session.inputMetadata.filter((m) => m.name.includes('past'));
  const vocabulary = Number(session.outputMetadata[0].shape[2]);
  const ids = (n, offset) => {
    const a = new BigInt64Array(n);
    for (let i = 0; i < n; ++i) a[i] = BigInt(((offset + i) * 37 + 11) % Math.min(vocabulary, 96));
    return a;
  };
  async function once() {
    let feeds = { input_ids: new ort.Tensor('int64', ids(prompt, 0), [1, prompt]) };
    for (const m of pasts)
      feeds[m.name] = new ort.Tensor('float32', new Float32Array(0), [1, m.shape[1], 0, m.shape[3]]);
    let t0 = process.hrtime.bigint();
    let out = await session.run(feeds);
    const prefillSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    t0 = process.hrtime.bigint();
    for (let step = 0; step < fresh; ++step) {
      const logits = out[session.outputNames[0]].data;
      const row = logits.subarray(logits.length - vocabulary);
      let best = 0;
      for (let v = 1; v < vocabulary; ++v) if (row[v] > row[best]) best = v;
      feeds = { input_ids: new ort.Tensor('int64', BigInt64Array.of(BigInt(best)), [1, 1]) };
      for (const m of pasts) feeds[m.name] = out[m.name.replace('past_key_values', 'present')];
      out = await session.run(feeds);
    }
    const decodeSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    return [prompt / prefillSeconds, fresh / decodeSeconds];
  }
  await once();
  let best = [0, 0];
  for (let r = 0; r < repeats; ++r) {
    const [p, d] = await once();
    best = [Math.max(best[0], p), Math.max(best[1], d)];
  }
  console.log(`ort prefill_tok_s ${best[0].toFixed(1)} decode_tok_s ${best[1].toFixed(2)}`);
}
main().catch((e) => { console.error(e.message); process.exit(1); });
