// LSTM forward and backward through time for float32 on the CPU, default activations
// (sigmoid gates, tanh candidate and output). The equations are those of lstm.py; what this
// file adds is that each step is one GEMM plus one fused loop over (batch, units), instead of
// a dozen small tensor operations whose dispatch cost dominates at small sizes. The inner
// loops are plain arithmetic on contiguous rows so that the compiler vectorises them (with
// -ffast-math, glibc's vector expf/tanhf).
#include <torch/extension.h>

#include <cmath>

namespace {

inline float sigmoid(float x) { return 1.f / (1.f + expf(-x)); }

// One step's gate arithmetic for one sample. z holds the pre-activations [i f g o] on entry
// and the activations on exit.
inline void forward_row(float* __restrict z, const float* __restrict c_prev, const float* __restrict h_prev,
                        float* __restrict c_out, float* __restrict h_out, int64_t H, bool keep) {
    float* zi = z;
    float* zf = z + H;
    float* zg = z + 2 * H;
    float* zo = z + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
        const float i = sigmoid(zi[j]), f = sigmoid(zf[j]), g = tanhf(zg[j]), o = sigmoid(zo[j]);
        zi[j] = i;
        zf[j] = f;
        zg[j] = g;
        zo[j] = o;
        const float c = f * c_prev[j] + i * g;
        c_out[j] = c;
        h_out[j] = o * tanhf(c);
    }
    if (!keep) {  // a masked step carries both states through unchanged
        for (int64_t j = 0; j < H; ++j) {
            c_out[j] = c_prev[j];
            h_out[j] = h_prev[j];
        }
    }
}

// One step's gradient arithmetic for one sample: gh = dL/dh_t is the output gradient d_out plus
// what step t+1 sent back (gh_in); with gc = dL/dc_t it gives the gate gradients dz (written),
// dL/dc_{t-1} (gc_prev) and the part of dL/dh_{t-1} that bypasses the recurrent product
// (h_carry: the whole of gh on a masked step, else 0).
inline void backward_row(const float* __restrict gates, const float* __restrict c, const float* __restrict c_prev,
                         const float* __restrict d_out, const float* __restrict gh_in, const float* __restrict gc,
                         float* __restrict dz, float* __restrict gc_prev, float* __restrict h_carry, int64_t H,
                         bool keep) {
    if (!keep) {
        for (int64_t j = 0; j < 4 * H; ++j) dz[j] = 0.f;
        for (int64_t j = 0; j < H; ++j) {
            gc_prev[j] = gc[j];
            h_carry[j] = d_out[j] + gh_in[j];
        }
        return;
    }
    const float* i = gates;
    const float* f = gates + H;
    const float* g = gates + 2 * H;
    const float* o = gates + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
        const float gh = d_out[j] + gh_in[j];
        const float tc = tanhf(c[j]);
        const float dc = gc[j] + gh * o[j] * (1.f - tc * tc);
        dz[j] = dc * g[j] * i[j] * (1.f - i[j]);
        dz[H + j] = dc * c_prev[j] * f[j] * (1.f - f[j]);
        dz[2 * H + j] = dc * i[j] * (1.f - g[j] * g[j]);
        dz[3 * H + j] = gh * tc * o[j] * (1.f - o[j]);
        gc_prev[j] = dc * f[j];
        h_carry[j] = 0.f;
    }
}

}  // namespace

// xp (B, T, 4H) projected inputs, U (H, 4H), h0/c0 (B, H), keep (B, T) bool or empty.
// Returns gates (B, T, 4H) activations, hs (B, T, H), cs (B, T, H).
std::vector<torch::Tensor> lstm_forward(torch::Tensor xp, torch::Tensor U, torch::Tensor h0, torch::Tensor c0,
                                        torch::Tensor keep) {
    const int64_t B = xp.size(0), T = xp.size(1), H = U.size(0);
    auto gates = torch::empty_like(xp);
    auto hs = torch::empty({B, T, H}, xp.options());
    auto cs = torch::empty({B, T, H}, xp.options());
    const bool masked = keep.numel() > 0;
    const bool* keep_p = masked ? keep.data_ptr<bool>() : nullptr;
    float* g_p = gates.data_ptr<float>();
    float* h_p = hs.data_ptr<float>();
    float* c_p = cs.data_ptr<float>();
    const float* h0_p = h0.data_ptr<float>();
    const float* c0_p = c0.data_ptr<float>();
    torch::Tensor h = h0;
    for (int64_t t = 0; t < T; ++t) {
        auto z = gates.select(1, t);
        at::addmm_out(z, xp.select(1, t), h, U);
        at::parallel_for(0, B, 16, [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const float* c_prev = t == 0 ? c0_p + b * H : c_p + (b * T + t - 1) * H;
                const float* h_prev = t == 0 ? h0_p + b * H : h_p + (b * T + t - 1) * H;
                forward_row(g_p + (b * T + t) * 4 * H, c_prev, h_prev, c_p + (b * T + t) * H, h_p + (b * T + t) * H,
                            H, !masked || keep_p[b * T + t]);
            }
        });
        h = hs.select(1, t);
    }
    return {gates, hs, cs};
}

// Gradients of lstm_forward: from d_hs (B, T, H) and d_c_last (B, H) to
// (d_xp (B, T, 4H), dU (H, 4H), dh0, dc0).
std::vector<torch::Tensor> lstm_backward(torch::Tensor d_hs, torch::Tensor d_c_last, torch::Tensor U,
                                         torch::Tensor h0, torch::Tensor c0, torch::Tensor gates, torch::Tensor hs,
                                         torch::Tensor cs, torch::Tensor keep) {
    const int64_t B = hs.size(0), T = hs.size(1), H = hs.size(2);
    d_hs = d_hs.contiguous();
    auto d_gates = torch::empty_like(gates);
    auto Ut = U.t().contiguous();
    auto gc = d_c_last.clone().contiguous();
    auto gc_prev = torch::empty({B, H}, hs.options());
    auto h_carry = torch::empty({B, H}, hs.options());
    auto gh_next = torch::zeros({B, H}, hs.options());
    auto gh_in = torch::empty({B, H}, hs.options());
    const bool masked = keep.numel() > 0;
    const bool* keep_p = masked ? keep.data_ptr<bool>() : nullptr;
    const float* g_p = gates.data_ptr<float>();
    const float* c_p = cs.data_ptr<float>();
    const float* c0_p = c0.data_ptr<float>();
    const float* dh_p = d_hs.data_ptr<float>();
    float* dz_p = d_gates.data_ptr<float>();
    for (int64_t t = T - 1; t >= 0; --t) {
        std::swap(gh_in, gh_next);  // what step t+1 sent back
        const float* ghi_p = gh_in.data_ptr<float>();
        float* gc_p = gc.data_ptr<float>();
        float* gcp_p = gc_prev.data_ptr<float>();
        float* hc_p = h_carry.data_ptr<float>();
        at::parallel_for(0, B, 16, [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const float* c_prev = t == 0 ? c0_p + b * H : c_p + (b * T + t - 1) * H;
                backward_row(g_p + (b * T + t) * 4 * H, c_p + (b * T + t) * H, c_prev, dh_p + (b * T + t) * H,
                             ghi_p + b * H, gc_p + b * H, dz_p + (b * T + t) * 4 * H, gcp_p + b * H, hc_p + b * H, H,
                             !masked || keep_p[b * T + t]);
            }
        });
        at::addmm_out(gh_next, h_carry, d_gates.select(1, t), Ut);
        std::swap(gc, gc_prev);
    }
    auto h_prev = torch::cat({h0.unsqueeze(1), hs.narrow(1, 0, T - 1)}, 1).reshape({B * T, H});
    auto dU = h_prev.t().mm(d_gates.reshape({B * T, 4 * H}));
    return {d_gates, dU, gh_next, gc};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("lstm_forward", &lstm_forward, "LSTM forward through time (float32, CPU)");
    m.def("lstm_backward", &lstm_backward, "LSTM backward through time (float32, CPU)");
}
