// run_ort.js [--no-optimize] [--config KEY=VALUE]... [--all-outputs] MODEL.onnx OUT.npy NAME=IN.npy... - runs ONNX Runtime (CPU,
// one thread) on NumPy inputs and writes its first output as a float32/float16/int32/int64 .npy (with
// --all-outputs, output i goes to OUT.npy with `.i` before the extension). The test oracle for
// qopt's numerics.
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

const kinds = {
  '<f4': ['float32', Float32Array], '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array], '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array],
  '|b1': ['bool', Uint8Array], '<f2': ['float16', Uint16Array],
};

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12);
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim())
    .map(Number);
  if (!kinds[descr]) throw new Error(`${file}: unsupported dtype ${descr}`);
  const [type, Array] = kinds[descr];
  const offset = start + headerLen;
  const bytes = buf.subarray(offset);
  const data = new Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return new ort.Tensor(type === 'bool' ? 'bool' : type, data, shape);
}

function writeNpy(file, tensor) {
  const descr = { float32: '<f4', int64: '<i8', int32: '<i4', float16: '<f2' }[tensor.type];
  if (!descr) throw new Error(`output type ${tensor.type} is not supported`);
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${tensor.dims.join(', ')}${tensor.dims.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((header.length + 10) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const data = Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), data]));
}

// {'session.a_b': '0'} → {session: {a_b: '0'}}, the form onnxruntime-node reads.
function nestConfig(flat) {
  const out = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = out;
    for (const p of parts.slice(0, -1)) node = node[p] = node[p] || {};
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  // --no-optimize: run the graph as written (no fusion of QDQ patterns into integer kernels).
  const noOptimize = args[0] === '--no-optimize';
  if (noOptimize) args.shift();
  // --config KEY=VALUE: a session configuration entry, e.g.
  // session.qdq_matmulnbits_accuracy_level=0 (f32 arithmetic for DequantizeLinear → MatMul).
  const config = {};
  while (args[0] === '--config') {
    const [key, value] = args[1].split('=');
    config[key] = value;
    args.splice(0, 2);
  }
  const allOutputs = args[0] === '--all-outputs';
  if (allOutputs) args.shift();
  const [model, out, ...inputs] = args;
  if (!model || !out) throw new Error('usage: run_ort.js MODEL.onnx OUT.npy NAME=IN.npy...');
  const sessionOptions = {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: noOptimize ? 'disabled' : 'all',
  };
  if (Object.keys(config).length) sessionOptions.extra = nestConfig(config);
  const session = await ort.InferenceSession.create(model, sessionOptions);
  const feeds = {};
  for (const spec of inputs) {
    const eq = spec.indexOf('=');
    feeds[spec.slice(0, eq)] = readNpy(spec.slice(eq + 1));
  }
  const results = await session.run(feeds);
  if (!allOutputs) {
    writeNpy(out, results[session.outputNames[0]]);
    return;
  }
  session.outputNames.forEach((name, i) =>
    writeNpy(out.replace(/\.npy$/, `.${i}.npy`), results[name]));
}
main().catch((e) => { console.error(`run_ort.js: ${e.message}`); process.exit(1); });
