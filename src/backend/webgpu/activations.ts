/** WGSL activations, matching src/model/layers.ts (gelu_new) and tfjs's erf (gelu). */
export function activationWGSL(activation: 'gelu_new' | 'gelu' | 'none'): string {
  switch (activation) {
    case 'gelu_new':
      // ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); tanh's argument clamped so exp() cannot overflow.
      return `
        fn activate(x : f32) -> f32 {
          let inner = 0.7978845608028654 * (x + 0.044715 * x * x * x);
          return 0.5 * x * (1.0 + tanh(clamp(inner, -15.0, 15.0)));
        }`;
    case 'gelu':
      // ½·x·(1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), as tfjs does.
      return `
        fn erfApprox(v : f32) -> f32 {
          let a = abs(v);
          let t = 1.0 / (1.0 + 0.3275911 * a);
          let poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
          return sign(v) * (1.0 - poly * exp(-a * a));
        }
        fn activate(x : f32) -> f32 { return 0.5 * x * (1.0 + erfApprox(x * 0.7071067811865476)); }`;
    case 'none':
      return 'fn activate(x : f32) -> f32 { return x; }';
  }
}
