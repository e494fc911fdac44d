// The GRU recurrence of RNNAgent over a whole sequence, forward and backward, for the CPU.
//
// Same equations as torch.nn.GRUCell (PyTorch's gate order r, z, n):
//   r = sigmoid(x_r + h W_hr + b_hr)          z = sigmoid(x_z + h W_hz + b_hz)
//   n = tanh(x_n + r * (h W_hn + b_hn))       h' = (1 - z) * n + z * h
// where x = inputs W_ih is computed by the caller for all steps at once (one matrix product, without
// the bias: both biases are added here, inside the gate loop, and their gradients summed there).
// Per step: one matrix product (h W_hh) through ATen, then the gates in one fused loop. The backward
// pass runs the recurrence in reverse with one matrix product per step; the weight gradient is one
// product over all steps at the end. Loaded by gru_kernel.py with torch.utils.cpp_extension.

#include <torch/extension.h>

#include <cmath>
#include <vector>

namespace {

inline float sigmoidf(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float tanhf_(float x) { return 1.0f - 2.0f / (std::exp(2.0f * x) + 1.0f); }

// gates of one step: gi_t [N, 3H] (input part), gh [N, 3H] (hidden part), h [N, H] -> h_out [N, H]
// gates of one step: gi_t [N, 3H] (inputs W_ih^T), gh [N, 3H] (h W_hh^T), the biases b_ih, b_hh [3H],
// h [N, H] -> h_out [N, H]
template <bool SAVE>
void forward_gates(const float* gi_t, const float* gh, const float* bi, const float* b, const float* h, float* h_out,
                   float* rz_t, float* n_t, float* ghn_t, int64_t N, int64_t H) {
  const int64_t H3 = 3 * H;
  for (int64_t i = 0; i < N; ++i) {
    const float* x = gi_t + i * H3;
    const float* g = gh + i * H3;
    const float* hi = h + i * H;
    float* ho = h_out + i * H;
#pragma omp simd
    for (int64_t j = 0; j < H; ++j) {
      const float r = sigmoidf(x[j] + bi[j] + g[j] + b[j]);
      const float z = sigmoidf(x[H + j] + bi[H + j] + g[H + j] + b[H + j]);
      const float gn = g[2 * H + j] + b[2 * H + j];
      const float n = tanhf_(x[2 * H + j] + bi[2 * H + j] + r * gn);
      ho[j] = n + z * (hi[j] - n);
      if constexpr (SAVE) {
        rz_t[i * 2 * H + j] = r;
        rz_t[i * 2 * H + H + j] = z;
        n_t[i * H + j] = n;
        ghn_t[i * H + j] = gn;
      }
    }
  }
}

}  // namespace

// gi [T, N, 3H] (inputs W_ih^T, no bias), h0 [N, H], w_hh [3H, H], b_ih [3H], b_hh [3H].
// Returns hs [T, N, H] (the hidden state after each step) and, with save=true, what backward needs:
// rz [T, N, 2H], n [T, N, H], ghn [T, N, H] (h W_hn + b_hn).
std::vector<at::Tensor> gru_forward(const at::Tensor& gi, const at::Tensor& h0, const at::Tensor& w_hh,
                                    const at::Tensor& b_ih, const at::Tensor& b_hh, bool save) {
  TORCH_CHECK(gi.dtype() == at::kFloat && gi.is_contiguous() && gi.dim() == 3, "gi: contiguous float32 [T, N, 3H]");
  const int64_t T = gi.size(0), N = gi.size(1), H = gi.size(2) / 3;
  const auto opts = gi.options();
  at::Tensor hs = at::empty({T, N, H}, opts);
  at::Tensor rz = at::empty({save ? T : 0, N, 2 * H}, opts);
  at::Tensor n = at::empty({save ? T : 0, N, H}, opts);
  at::Tensor ghn = at::empty({save ? T : 0, N, H}, opts);
  at::Tensor gh = at::empty({N, 3 * H}, opts);
  const at::Tensor w_t = w_hh.t().contiguous();  // row-major W_hh^T: the faster layout for MKL here
  const at::Tensor bi = b_ih.contiguous(), b = b_hh.contiguous();
  at::Tensor h = h0.contiguous();
  for (int64_t t = 0; t < T; ++t) {
    at::mm_out(gh, h, w_t);
    const float* gi_t = gi.data_ptr<float>() + t * N * 3 * H;
    float* h_out = hs.data_ptr<float>() + t * N * H;
    if (save) {
      forward_gates<true>(gi_t, gh.data_ptr<float>(), bi.data_ptr<float>(), b.data_ptr<float>(), h.data_ptr<float>(),
                          h_out,
                          rz.data_ptr<float>() + t * N * 2 * H, n.data_ptr<float>() + t * N * H,
                          ghn.data_ptr<float>() + t * N * H, N, H);
    } else {
      forward_gates<false>(gi_t, gh.data_ptr<float>(), bi.data_ptr<float>(), b.data_ptr<float>(),
                           h.data_ptr<float>(), h_out, nullptr, nullptr, nullptr, N, H);
    }
    h = hs.select(0, t);
  }
  return {hs, rz, n, ghn};
}

// dhs [T, N, H]: the gradient of every hs[t]. Returns dgi [T, N, 3H], dh0 [N, H], dw_hh [3H, H], db_ih [3H],
// db_hh [3H].
std::vector<at::Tensor> gru_backward(const at::Tensor& dhs_in, const at::Tensor& h0, const at::Tensor& w_hh,
                                     const at::Tensor& hs, const at::Tensor& rz, const at::Tensor& n,
                                     const at::Tensor& ghn) {
  const int64_t T = hs.size(0), N = hs.size(1), H = hs.size(2), H3 = 3 * H;
  const auto opts = hs.options();
  const at::Tensor dhs = dhs_in.contiguous();
  const at::Tensor h0c = h0.contiguous();
  at::Tensor dgi = at::empty({T, N, H3}, opts);
  at::Tensor dgh = at::empty({T, N, H3}, opts);
  at::Tensor dh = at::zeros({N, H}, opts);  // dL/dh of the step after t, then of step t - 1
  // the bias gradients, summed over T x N rows in double precision (a float32 running sum drifts)
  std::vector<double> dbi(H3, 0.0), dbh(H3, 0.0);
  for (int64_t t = T - 1; t >= 0; --t) {
    const float* hp = t > 0 ? hs.data_ptr<float>() + (t - 1) * N * H : h0c.data_ptr<float>();
    const float* dhs_t = dhs.data_ptr<float>() + t * N * H;
    const float* rz_t = rz.data_ptr<float>() + t * N * 2 * H;
    const float* n_t = n.data_ptr<float>() + t * N * H;
    const float* ghn_t = ghn.data_ptr<float>() + t * N * H;
    float* dgi_t = dgi.data_ptr<float>() + t * N * H3;
    float* dgh_t = dgh.data_ptr<float>() + t * N * H3;
    float* dhp = dh.data_ptr<float>();
    for (int64_t i = 0; i < N; ++i) {
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const int64_t k = i * H + j;
        const float d = dhp[k] + dhs_t[k];
        const float r = rz_t[i * 2 * H + j], z = rz_t[i * 2 * H + H + j], nk = n_t[k];
        const float dn = d * (1.0f - z) * (1.0f - nk * nk);
        const float dz = d * (hp[k] - nk) * z * (1.0f - z);
        const float dr = dn * ghn_t[k] * r * (1.0f - r);
        dgi_t[i * H3 + j] = dr;
        dgi_t[i * H3 + H + j] = dz;
        dgi_t[i * H3 + 2 * H + j] = dn;
        dgh_t[i * H3 + j] = dr;
        dgh_t[i * H3 + H + j] = dz;
        dgh_t[i * H3 + 2 * H + j] = dn * r;
        dhp[k] = d * z;  // element k was read above: the direct part of dL/dh_{t-1}
        dbi[j] += dr;
        dbi[H + j] += dz;
        dbi[2 * H + j] += dn;
        dbh[j] += dr;
        dbh[H + j] += dz;
        dbh[2 * H + j] += dn * r;
      }
    }
    dh.addmm_(dgh.select(0, t), w_hh);  // ... plus the part through the gates
  }
  // dW_hh = sum_t dgh_t^T h_{t-1}: step 0 with h0, the others with hs[0 .. T-2]
  at::Tensor dw_hh = dgh.select(0, 0).t().mm(h0c);
  if (T > 1) {
    const at::Tensor dgh_rest = dgh.narrow(0, 1, T - 1).reshape({(T - 1) * N, H3});
    dw_hh.addmm_(dgh_rest.t(), hs.narrow(0, 0, T - 1).reshape({(T - 1) * N, H}));
  }
  at::Tensor db_ih = at::empty({H3}, opts), db_hh = at::empty({H3}, opts);
  for (int64_t j = 0; j < H3; ++j) {
    db_ih.data_ptr<float>()[j] = static_cast<float>(dbi[j]);
    db_hh.data_ptr<float>()[j] = static_cast<float>(dbh[j]);
  }
  return {dgi, dh, dw_hh, db_ih, db_hh};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &gru_forward, "GRU recurrence over a sequence (forward)");
  m.def("backward", &gru_backward, "GRU recurrence over a sequence (backward)");
}
