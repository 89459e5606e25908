// ort_bench.js MODEL.onnx SEQ THREADS RUNS - times ONNX Runtime (CPU, fp32) on input_ids [1, SEQ].
// Prints "ort median <ms> min <ms>" after one warm-up run.
const path = require('path');
const ort = require(path.join(__dirname, '..', 'test', 'oracle', 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, seqArg, threadsArg, runsArg] = process.argv.slice(2);
  const seq = Number(seqArg), threads = Number(threadsArg), runs = Number(runsArg);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const ids = new BigInt64Array(seq);
  for (let i = 0; i < seq; ++i) ids[i] = BigInt((i * 37 + 11) % 96);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('int64', ids, [1, seq]) };
  await session.run(feeds);
  const times = [];
  for (let r = 0; r < runs; ++r) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(`ort median ${times[Math.floor(times.length / 2)].toFixed(3)} min ${times[0].toFixed(3)}`);
}
main().catch((e) => { console.error(e.message); process.exit(1); });
