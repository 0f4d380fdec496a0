// pytorch-grad-cam's get_2d_projection without an SVD routine (tfjs has none): the projection of the centred
// activations on their first principal direction, from the eigen-decomposition of the smaller Gram matrix.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Eigen-decomposition of a symmetric n×n matrix (row-major, float64) by cyclic Jacobi rotations.
 * Deterministic; returns the eigenvalues and the eigenvectors as columns of `vectors`.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += a[i] * a[i];
  const tolerance = 1e-30 * scale;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= tolerance) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan's symmetric Schur decomposition).
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = a[i * n + i];
  return { values, vectors: v };
}

/**
 * The projection of one example's activations (P positions × C channels, row-major, as reshaped to (h·w, C)) on
 * their first principal direction: M·v₁ with M the column-centred matrix and v₁ its first right singular vector.
 * Computed from whichever Gram matrix is smaller (MᵀM is C×C, MMᵀ is P×P; M·v₁ = σ₁·u₁).
 *
 * The sign of a singular vector is arbitrary (numpy's LAPACK picks one by its arithmetic); see orientProjection.
 */
export function firstComponentProjection(values: ArrayLike<number>, positions: number, channels: number): Float64Array {
  const P = positions;
  const C = channels;
  // Centre each channel over the positions (NaNs count as 0, as pytorch-grad-cam sets them).
  const m = new Float64Array(P * C);
  for (let c = 0; c < C; c++) {
    let mean = 0;
    for (let p = 0; p < P; p++) {
      const x = values[p * C + c];
      mean += Number.isNaN(x) ? 0 : x;
    }
    mean /= P;
    for (let p = 0; p < P; p++) {
      const x = values[p * C + c];
      m[p * C + c] = (Number.isNaN(x) ? 0 : x) - mean;
    }
  }
  const projection = new Float64Array(P);
  if (C <= P) {
    const gram = new Float64Array(C * C);
    for (let p = 0; p < P; p++) {
      const row = p * C;
      for (let i = 0; i < C; i++) {
        const mi = m[row + i];
        if (mi === 0) continue;
        for (let j = i; j < C; j++) gram[i * C + j] += mi * m[row + j];
      }
    }
    for (let i = 0; i < C; i++) for (let j = 0; j < i; j++) gram[i * C + j] = gram[j * C + i];
    const { values: lambda, vectors } = symmetricEigen(gram, C);
    const top = argMax(lambda);
    for (let p = 0; p < P; p++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += m[p * C + c] * vectors[c * C + top];
      projection[p] = s;
    }
  } else {
    const gram = new Float64Array(P * P);
    for (let i = 0; i < P; i++) {
      for (let j = i; j < P; j++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += m[i * C + c] * m[j * C + c];
        gram[i * P + j] = s;
        gram[j * P + i] = s;
      }
    }
    const { values: lambda, vectors } = symmetricEigen(gram, P);
    const top = argMax(lambda);
    const sigma = Math.sqrt(Math.max(lambda[top], 0));
    for (let p = 0; p < P; p++) projection[p] = sigma * vectors[p * P + top];
  }
  return orientProjection(projection, m, P, C);
}

function argMax(values: Float64Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/**
 * Fixes the arbitrary sign: the direction v₁ = Mᵀ·projection / σ₁ is taken with a negative component sum
 * (Σ_c v₁[c] < 0, i.e. Σ_p projection[p] · Σ_c M[p][c] < 0). On every reference computed with numpy's LAPACK
 * (EigenCAM, EigenGradCAM and eigen-smoothed GradCAM on the tiny CNN and on MobileNet) numpy's VT[0] has this
 * sign: LAPACK tends to return the leading singular vector of such data with mostly negative entries. It is a
 * rule fitted to those references, not LAPACK's arithmetic; on other data numpy may return the opposite sign,
 * and after the ReLU the two differ completely. Ties (a zero sum) make the first non-zero entry of the
 * projection negative, so the result is deterministic.
 */
function orientProjection(projection: Float64Array, m: Float64Array, P: number, C: number): Float64Array {
  let direction = 0;
  for (let p = 0; p < P; p++) {
    let rowSum = 0;
    for (let c = 0; c < C; c++) rowSum += m[p * C + c];
    direction += projection[p] * rowSum;
  }
  if (direction === 0) direction = -(projection.find((x) => x !== 0) ?? 0);
  if (direction > 0) for (let p = 0; p < P; p++) projection[p] = -projection[p];
  return projection;
}

/** get_2d_projection of [N,h,w,C] per example, as [N,h,w,1] (float32, like the reference). */
export async function projectFirstComponent(weighted: tf.Tensor4D): Promise<tf.Tensor4D> {
  const [n, h, w, c] = weighted.shape;
  const data = await weighted.data();
  const out = new Float32Array(n * h * w);
  for (let e = 0; e < n; e++) {
    const projection = firstComponentProjection(data.subarray(e * h * w * c, (e + 1) * h * w * c), h * w, c);
    out.set(projection, e * h * w);
  }
  return tf.tensor4d(out, [n, h, w, 1]);
}
