// The GRU recurrence of RNNAgent over a whole sequence, forward and backward, for the CPU.
//
// Same equations as torch.nn.GRUCell (PyTorch's gate order r, z, n):
//   r = sigmoid(x W_ir + b_ir + h W_hr + b_hr)      z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)
//   n = tanh(x W_in + b_in + r * (h W_hn + b_hn))     h' = (1 - z) * n + z * h
// Per step: two small matrix products through ATen (x_t W_ih and h W_hh, N x 3H each), then the
// gates in one fused, vectorised loop that adds both biases. Working step by step keeps every
// operand in the CPU's cache: one product over all steps at once wrote and re-read T x N x 3H
// floats through main memory (measured slower). The backward pass runs the recurrence in reverse:
// per step the gate gradients, then the gradient of h_{t-1} and of x_t, and the weight gradients
// accumulated step by step; the bias gradients are summed inside the gate loop.
// At the end, two fast paths for acting (one agent step, the epsilon-greedy selection).
// Loaded by gru_kernel.py with torch.utils.cpp_extension.

#include <torch/extension.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

inline float sigmoidf(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float tanhf_(float x) { return 1.0f - 2.0f / (std::exp(2.0f * x) + 1.0f); }

// gates of one step: gi_t [N, 3H] (x_t W_ih^T), gh [N, 3H] (h W_hh^T), the biases b_ih, b_hh [3H],
// h [N, H] -> h_out [N, H]; with SAVE, what the backward pass needs: r and z, n, and h W_hn + b_hn
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

// x [T, N, I] (the GRU's inputs), h0 [N, H], w_ih [3H, I], w_hh [3H, H], b_ih [3H], b_hh [3H].
// Returns hs [T, N, H] (the hidden state after each step) and, with save=true, what backward needs:
// rz [T, N, 2H], n [T, N, H], ghn [T, N, H] (h W_hn + b_hn).
std::vector<at::Tensor> gru_forward(const at::Tensor& x_in, const at::Tensor& h0, const at::Tensor& w_ih,
                                    const at::Tensor& w_hh, const at::Tensor& b_ih, const at::Tensor& b_hh, bool save) {
  TORCH_CHECK(x_in.dtype() == at::kFloat && x_in.dim() == 3, "x: float32 [T, N, I]");
  const at::Tensor x = x_in.contiguous();
  const int64_t T = x.size(0), N = x.size(1), H = w_hh.size(1);
  const auto opts = x.options();
  at::Tensor hs = at::empty({T, N, H}, opts);
  at::Tensor rz = at::empty({save ? T : 0, N, 2 * H}, opts);
  at::Tensor n = at::empty({save ? T : 0, N, H}, opts);
  at::Tensor ghn = at::empty({save ? T : 0, N, H}, opts);
  at::Tensor gi = at::empty({N, 3 * H}, opts);  // x_t W_ih^T of the current step
  at::Tensor gh = at::empty({N, 3 * H}, opts);  // h W_hh^T of the current step
  // row-major transposed weights: the faster layout for MKL's products here
  const at::Tensor wi_t = w_ih.t().contiguous(), wh_t = w_hh.t().contiguous();
  const at::Tensor bi = b_ih.contiguous(), b = b_hh.contiguous();
  at::Tensor h = h0.contiguous();
  for (int64_t t = 0; t < T; ++t) {
    at::mm_out(gi, x.select(0, t), wi_t);
    at::mm_out(gh, h, wh_t);
    float* h_out = hs.data_ptr<float>() + t * N * H;
    if (save) {
      forward_gates<true>(gi.data_ptr<float>(), gh.data_ptr<float>(), bi.data_ptr<float>(), b.data_ptr<float>(),
                          h.data_ptr<float>(), h_out, rz.data_ptr<float>() + t * N * 2 * H,
                          n.data_ptr<float>() + t * N * H, ghn.data_ptr<float>() + t * N * H, N, H);
    } else {
      forward_gates<false>(gi.data_ptr<float>(), gh.data_ptr<float>(), bi.data_ptr<float>(), b.data_ptr<float>(),
                           h.data_ptr<float>(), h_out, nullptr, nullptr, nullptr, N, H);
    }
    h = hs.select(0, t);
  }
  return {hs, rz, n, ghn};
}

// dhs [T, N, H]: the gradient of every hs[t]. Returns dx [T, N, I], dh0 [N, H], dw_ih [3H, I], dw_hh [3H, H],
// db_ih [3H], db_hh [3H].
std::vector<at::Tensor> gru_backward(const at::Tensor& dhs_in, const at::Tensor& x_in, const at::Tensor& h0,
                                     const at::Tensor& w_ih, const at::Tensor& w_hh, const at::Tensor& hs,
                                     const at::Tensor& rz, const at::Tensor& n, const at::Tensor& ghn) {
  const int64_t T = hs.size(0), N = hs.size(1), H = hs.size(2), H3 = 3 * H;
  const auto opts = hs.options();
  const at::Tensor dhs = dhs_in.contiguous(), x = x_in.contiguous(), h0c = h0.contiguous();
  const at::Tensor wi = w_ih.contiguous(), wh = w_hh.contiguous();
  at::Tensor dx = at::empty({T, N, x.size(2)}, opts);
  at::Tensor dgi = at::empty({N, H3}, opts);  // dL/d(x_t W_ih^T + b_ih) of the current step
  at::Tensor dgh = at::empty({N, H3}, opts);  // dL/d(h W_hh^T + b_hh) of the current step
  at::Tensor dw_ih = at::zeros({H3, x.size(2)}, opts), dw_hh = at::zeros({H3, H}, opts);
  at::Tensor dh = at::zeros({N, H}, opts);  // dL/dh of the step after t, then of step t - 1
  // the bias gradients, summed over T x N rows in double precision (a float32 running sum drifts)
  std::vector<double> dbi(H3, 0.0), dbh(H3, 0.0);
  for (int64_t t = T - 1; t >= 0; --t) {
    const at::Tensor h_prev = t > 0 ? hs.select(0, t - 1) : h0c;
    const float* hp = h_prev.data_ptr<float>();
    const float* dhs_t = dhs.data_ptr<float>() + t * N * H;
    const float* rz_t = rz.data_ptr<float>() + t * N * 2 * H;
    const float* n_t = n.data_ptr<float>() + t * N * H;
    const float* ghn_t = ghn.data_ptr<float>() + t * N * H;
    float* dgi_t = dgi.data_ptr<float>();
    float* dgh_t = dgh.data_ptr<float>();
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
    dh.addmm_(dgh, wh);  // ... plus the part through the gates
    at::Tensor dx_t = dx.select(0, t);
    at::mm_out(dx_t, dgi, wi);
    dw_ih.addmm_(dgi.t(), x.select(0, t));
    dw_hh.addmm_(dgh.t(), h_prev);
  }
  at::Tensor db_ih = at::empty({H3}, opts), db_hh = at::empty({H3}, opts);
  for (int64_t j = 0; j < H3; ++j) {
    db_ih.data_ptr<float>()[j] = static_cast<float>(dbi[j]);
    db_hh.data_ptr<float>()[j] = static_cast<float>(dbh[j]);
  }
  return {dx, dh, dw_ih, dw_hh, db_ih, db_hh};
}

// ---------------------------------------------------------------- acting
// Two fast paths for acting (one env step at a time, no gradients). Each makes the same ATen calls,
// in the same order, as the Python code it replaces, so it gives the same numbers and draws the
// same random numbers: the saving is the Python-side cost of a dozen small calls per env step.

// RNNAgent.forward: fc1 -> ReLU -> GRUCell -> fc2. inputs [N, I], h [N, H] -> {q [N, n_actions], h' [N, H]}.
std::vector<at::Tensor> agent_step(const at::Tensor& inputs, const at::Tensor& h, const at::Tensor& fc1_w,
                                   const at::Tensor& fc1_b, const at::Tensor& w_ih, const at::Tensor& w_hh,
                                   const at::Tensor& b_ih, const at::Tensor& b_hh, const at::Tensor& fc2_w,
                                   const at::Tensor& fc2_b) {
  at::NoGradGuard no_grad;
  const at::Tensor x = at::relu(at::linear(inputs, fc1_w, fc1_b));
  at::Tensor h_new = at::gru_cell(x, h, w_ih, w_hh, b_ih, b_hh);
  return {at::linear(h_new, fc2_w, fc2_b), h_new};
}

// EpsilonGreedyActionSelector.select_action with its check: q [B, n_agents, n_actions] (float),
// avail (same shape, 0/1) -> actions [B, n_agents] (int64), or an empty tensor when a row has no
// available action (the caller then raises its clear error; nothing was drawn).
// The two random draws are the ATen calls of the Python code: rand_like for the epsilon coin and,
// for Categorical(avail).sample(), what torch.multinomial does for one sample (exponential_ noise
// on a tensor of the probabilities' shape, then the argmax of probability / noise; tested equal
// to multinomial). The rest (masking, the two argmaxes with torch's rules: the first of equal
// maxima, NaN above all; the mixing) reads and writes the few numbers directly, in the same float
// arithmetic, so the actions and the generator's state are the same, bit for bit. This function is
// compiled without fast math (which rewrote (p / s) / e as p / (s * e), and dropped NaN tests).
#if defined(__clang__)
#pragma float_control(precise, on, push)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("no-fast-math")
#endif
inline bool is_nan(float x) {  // by its bits: a test that no compiler option can remove
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return (bits & 0x7fffffffu) > 0x7f800000u;
}

at::Tensor epsilon_greedy(const at::Tensor& q_in, const at::Tensor& avail_in, double epsilon, double unavailable_q) {
  at::NoGradGuard no_grad;
  const int64_t B = q_in.size(0), n_agents = q_in.size(1), A = q_in.size(2), rows = B * n_agents;
  const at::Tensor q = q_in.contiguous();
  const at::Tensor avail = avail_in.to(at::kFloat).contiguous();
  const float* qd = q.data_ptr<float>();
  const float* ad = avail.data_ptr<float>();
  std::vector<float> avail_sum(rows);
  for (int64_t i = 0; i < rows; ++i) {
    float s = 0.0f;  // probs.sum(-1): 0/1 values, so any order gives the same float
    for (int64_t j = 0; j < A; ++j) s += ad[i * A + j];
    if (!(s > 0.0f)) return at::empty({0}, q_in.options().dtype(at::kLong));
    avail_sum[i] = s;
  }
  const at::Tensor random_numbers = at::rand_like(q_in.select(2, 0)).contiguous();
  const at::Tensor noise = at::empty({rows, A}, avail.options()).exponential_(1);
  const float* rd = random_numbers.data_ptr<float>();
  const float* nd = noise.data_ptr<float>();
  const float eps = static_cast<float>(epsilon);  // torch compares a float tensor with the scalar cast to float
  const float fill = static_cast<float>(unavailable_q);
  at::Tensor actions = at::empty({B, n_agents}, q_in.options().dtype(at::kLong));
  int64_t* out = actions.data_ptr<int64_t>();
  for (int64_t i = 0; i < rows; ++i) {
    const float* qi = qd + i * A;
    const float* ai = ad + i * A;
    const float* ni = nd + i * A;
    int64_t greedy = 0, random = 0;
    float best_q = ai[0] == 0.0f ? fill : qi[0];
    float best_r = (ai[0] / avail_sum[i]) / ni[0];
    for (int64_t j = 1; j < A; ++j) {
      const float qj = ai[j] == 0.0f ? fill : qi[j];
      if (!is_nan(best_q) && (is_nan(qj) || qj > best_q)) {
        best_q = qj;
        greedy = j;
      }
      const float rj = (ai[j] / avail_sum[i]) / ni[j];
      if (!is_nan(best_r) && (is_nan(rj) || rj > best_r)) {
        best_r = rj;
        random = j;
      }
    }
    out[i] = rd[i] < eps ? random : greedy;
  }
  return actions;
}
#if defined(__clang__)
#pragma float_control(pop)
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &gru_forward, "GRU recurrence over a sequence (forward)");
  m.def("backward", &gru_backward, "GRU recurrence over a sequence (backward)");
  m.def("agent_step", &agent_step, "RNNAgent.forward for acting (no gradients)");
  m.def("epsilon_greedy", &epsilon_greedy, "EpsilonGreedyActionSelector's check and selection (no gradients)");
}
