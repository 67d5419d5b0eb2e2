// SimpleRNN, LSTM and GRU forward and backward through time for float32 on the CPU (products
// optionally in bfloat16: "Mixed precision" below), and greedy decoding. The equations are those of
// simple_rnn.py, lstm.py and gru.py (default activations); what this file adds is that each step is
// one product (the "panel products" below) plus one fused loop over (batch, units), instead of
// several small tensor operations whose dispatch cost dominates at small sizes. The inner
// loops are plain arithmetic on contiguous rows so that the compiler vectorises them (-ffast-math;
// tanh and sigmoid as rational functions, below). Masked steps carry the state through, as there.
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

namespace {

// Outputs this large (e.g. the char model's GRU gates and their gradient, 78 MB each) come from
// glibc's mmap: freed at the end of a training step, they are unmapped, and the next step's copy
// faults in and zeroes every page again (~1.5 us per 4 KB page, ~60 ms of a 0.5 s mixed-precision
// char step). So a buffer of this size that an earlier call returned is kept here, and handed out
// again once nothing else holds its storage (autograd has let go of it).
constexpr int64_t kReusedBytes = 32 << 20;  // glibc's largest mmap threshold: smaller blocks come from the heap

torch::Tensor reusable_empty(at::IntArrayRef sizes, const torch::TensorOptions& options) {
    const int64_t bytes = c10::multiply_integers(sizes) * static_cast<int64_t>(options.dtype().itemsize());
    if (bytes < kReusedBytes || options.device().type() != c10::DeviceType::CPU) return torch::empty(sizes, options);
    static std::mutex guard;
    static std::vector<torch::Tensor> kept;  // flat buffers, each the only owner of its storage when free
    std::lock_guard<std::mutex> lock(guard);
    for (auto& buffer : kept) {
        if (buffer.storage().use_count() == 1 && buffer.nbytes() == static_cast<size_t>(bytes) &&
            buffer.dtype() == options.dtype()) {
            return buffer.view(sizes);
        }
    }
    // No free buffer of this size: drop the free ones of other sizes (a different batch or sequence
    // length), so that keeping buffers never raises the peak memory above what fresh ones would take.
    kept.erase(std::remove_if(kept.begin(), kept.end(), [](const torch::Tensor& b) { return b.storage().use_count() == 1; }),
               kept.end());
    auto buffer = torch::empty({c10::multiply_integers(sizes)}, options);
    kept.push_back(buffer);
    return buffer.view(sizes);
}


// Rows of a step's gate loop given to one thread: small steps stay on one thread, where the
// fork/join would cost more than the arithmetic.
inline int64_t rows_per_task(int64_t H) { return std::max<int64_t>(1, 16384 / H); }

// The least work (multiply-adds, or elements of a pass) a product or a pass over a step's rows
// gives one thread's task.
constexpr int64_t kTaskWork = 1 << 18;

// The step mask as a pointer, or nullptr when every step is kept (an empty tensor).
inline const bool* keep_data(const torch::Tensor& keep) { return keep.numel() > 0 ? keep.data_ptr<bool>() : nullptr; }

inline bool kept(const bool* keep, int64_t index) { return keep == nullptr || keep[index]; }

// Row b of the state before step t: the initial state at t = 0, else step t-1's.
inline const float* previous_row(const float* initial, const float* states, int64_t b, int64_t t, int64_t T,
                                 int64_t H) {
    return t == 0 ? initial + b * H : states + (b * T + t - 1) * H;
}

// ------------------------------------------------------------------------------ panel products
// The recurrent products re-read one weight at every step. torch's float32 GEMM is MKL's, which
// takes its AVX2 code on AMD CPUs (~100 GFLOP/s and ~70 GB/s on one thread of this AMD EPYC, whose
// AVX-512 units do twice that); packed once into panels of 64 columns, each panel's K rows
// contiguous, the same product runs here as AVX-512 code the compiler emits from 16-float vectors:
// 4 rows of `a` share each load of the panel, their 4 x 64 sums stay in registers, and the panel (a
// few hundred KB) stays in the core's cache while all rows pass over it. In bfloat16 (a mixed
// policy) a panel holds the rows in pairs, (k, k+1) interleaved per column, the operand layout of
// AVX512-BF16's dot product (vdpbf16ps: two products per lane summed into float32): half the
// bytes, and no per-call conversion of the weight as torch's bfloat16 GEMM makes. Measured on one
// thread: 64 x 1024 x 3072 in 1.64 ms float32 (MKL 4.2-4.7) and 0.80 ms bfloat16 (torch 1.1); one row
// (generation) 102 us float32 (MKL 140) and 53 us bfloat16 (torch 217). The last panel is as wide as
// the columns left (a multiple of the vector width), so a 65-column output layer is 64 + 16 wide.
// A block keeps SUMS vectors of sums in registers: 4 rows of a full panel, 8 rows of a 32-column one
// (a narrow output, e.g. the LSTM backward's h gradient), so that every panel width has enough
// independent sums to keep both FMA units busy. Without AVX-512 (16 vector registers of 8 floats) a
// full block is 2 rows x 32 columns, so that its 8 sums and the panel's 4 vectors stay in registers:
// MKL's AVX2 rate (measured with -march=haswell).
#if defined(__AVX512F__)
constexpr int64_t LANES = 16, SUMS = 16;
#else
constexpr int64_t LANES = 8, SUMS = 8;
#endif
constexpr int64_t PANEL = 4 * LANES;
typedef float fvec __attribute__((vector_size(LANES * sizeof(float)), aligned(4)));  // loaded unaligned

#if defined(__AVX512BF16__)
constexpr bool kPanelBfloat16 = true;
#else
constexpr bool kPanelBfloat16 = false;
#endif

// Panel p starts after p full panels of PANEL columns.
inline int64_t panel_width(int64_t N, int64_t p) {
    return std::min<int64_t>(PANEL, (N - p * PANEL + LANES - 1) / LANES * LANES);
}

// W (K, N), float32 or bfloat16, any strides -> its panels, float32 (K rows) or bfloat16 (ceil(K/2)
// row pairs, rounded to nearest even), flat; one pass, so that packing a small weight costs about
// what one of its products does.
template <typename In, typename Out>
void pack_into(Out* out, const In* w, int64_t K, int64_t N, int64_t sK, int64_t sN, int64_t depth) {
    const int64_t pairs = (K + depth - 1) / depth;
    for (int64_t p = 0; p * PANEL < N; ++p) {
        const int64_t width = panel_width(N, p);
        Out* panel = out + p * PANEL * pairs * depth;
        for (int64_t k2 = 0; k2 < pairs; ++k2) {
            for (int64_t d = 0; d < depth; ++d) {
                const int64_t k = k2 * depth + d;
                for (int64_t j = 0; j < width; ++j) {
                    const int64_t column = p * PANEL + j;
                    const float value = k < K && column < N ? static_cast<float>(w[k * sK + column * sN]) : 0.f;
                    panel[(k2 * width + j) * depth + d] = static_cast<Out>(value);
                }
            }
        }
    }
}

#if defined(__AVX512BF16__)
// pack_into for float32 rows of unit column stride into bfloat16 pairs, 16 columns at a time: the two
// rows of a pair rounded at once (vcvtne2ps2bf16, nearest even as the scalar path) and interleaved.
inline __m512i load_pair_halves(const float* r0, const float* r1, bool second, __mmask16 m) {
    const __m512 v0 = _mm512_maskz_loadu_ps(m, r0);
    const __m512 v1 = second ? _mm512_maskz_loadu_ps(m, r1) : _mm512_setzero_ps();
    return (__m512i)_mm512_cvtne2ps_pbh(v1, v0);  // low half v0, high half v1
}
inline __m512i load_pair_halves(const at::BFloat16* r0, const at::BFloat16* r1, bool second, __mmask16 m) {
    const __m256i v0 = _mm256_maskz_loadu_epi16(m, r0);
    const __m256i v1 = second ? _mm256_maskz_loadu_epi16(m, r1) : _mm256_setzero_si256();
    return _mm512_inserti64x4(_mm512_castsi256_si512(v0), v1, 1);
}
template <typename In>
void pack_pairs_fast(at::BFloat16* out, const In* w, int64_t K, int64_t N, int64_t sK) {
    const int64_t pairs = (K + 1) / 2;
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                                23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int64_t p = 0; p * PANEL < N; ++p) {
        const int64_t width = panel_width(N, p);
        at::BFloat16* panel = out + p * PANEL * pairs * 2;
        for (int64_t k2 = 0; k2 < pairs; ++k2) {
            const In* r0 = w + 2 * k2 * sK + p * PANEL;
            const In* r1 = r0 + sK;
            const bool second = 2 * k2 + 1 < K;
            for (int64_t j = 0; j < width; j += 16) {
                const int64_t left = N - p * PANEL - j;
                const __mmask16 m = left >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << left) - 1);
                const __m512i both = load_pair_halves(r0 + j, r1 + j, second, m);
                _mm512_storeu_si512(panel + (k2 * width + j) * 2, _mm512_permutexvar_epi16(interleave, both));
            }
        }
    }
}
#endif

torch::Tensor pack_panels(const torch::Tensor& W, bool bfloat16) {
    TORCH_CHECK(W.dim() == 2 && (W.scalar_type() == at::kFloat || W.scalar_type() == at::kBFloat16),
                "pack_panels: W must be a 2-D float32 or bfloat16 tensor");
    TORCH_CHECK(!bfloat16 || kPanelBfloat16, "pack_panels: bfloat16 panels need AVX512-BF16");
    const int64_t K = W.size(0), N = W.size(1), depth = bfloat16 ? 2 : 1;
    auto packed = torch::empty({(K + depth - 1) / depth * depth * ((N + LANES - 1) / LANES * LANES)},
                               W.options().dtype(bfloat16 ? at::kBFloat16 : at::kFloat));
    AT_DISPATCH_SWITCH(W.scalar_type(), "pack_panels",
        AT_DISPATCH_CASE(at::kFloat, [&] {
#if defined(__AVX512BF16__)
            if (bfloat16 && W.stride(1) == 1) {
                pack_pairs_fast(packed.data_ptr<at::BFloat16>(), W.data_ptr<float>(), K, N, W.stride(0));
                return;
            }
#endif
            bfloat16 ? pack_into(packed.data_ptr<at::BFloat16>(), W.data_ptr<float>(), K, N, W.stride(0), W.stride(1), 2)
                     : pack_into(packed.data_ptr<float>(), W.data_ptr<float>(), K, N, W.stride(0), W.stride(1), 1);
        })
        AT_DISPATCH_CASE(at::kBFloat16, [&] {
            const auto* w = W.data_ptr<at::BFloat16>();
#if defined(__AVX512BF16__)
            if (bfloat16 && W.stride(1) == 1) {
                pack_pairs_fast(packed.data_ptr<at::BFloat16>(), w, K, N, W.stride(0));
                return;
            }
#endif
            bfloat16 ? pack_into(packed.data_ptr<at::BFloat16>(), w, K, N, W.stride(0), W.stride(1), 2)
                     : pack_into(packed.data_ptr<float>(), w, K, N, W.stride(0), W.stride(1), 1);
        }));
    return packed;
}

// Where R rows of a product go: out (row stride ldo) = add (row stride ldadd, 0 for one row shared by
// all, e.g. a bias; nullptr for none) + the product. add may be out itself.
struct Destination {
    float* out;
    int64_t ldo;
    const float* add;
    int64_t ldadd;
    at::BFloat16* out16 = nullptr;  // instead of out: bfloat16 rows (row stride ldo), rounded to nearest even
    Destination shifted(int64_t rows, int64_t columns) const {
        return {out == nullptr ? nullptr : out + rows * ldo + columns, ldo,
                add == nullptr ? nullptr : add + rows * ldadd + columns, ldadd,
                out16 == nullptr ? nullptr : out16 + rows * ldo + columns};
    }
    void store(int r, const float* row, int64_t columns) const {
        if (out16 != nullptr) {
            store16(r, row, columns);
            return;
        }
        float* o = out + r * ldo;
        if (add == nullptr) {
            std::copy(row, row + columns, o);
        } else {
            const float* a = add + r * ldadd;
            for (int64_t j = 0; j < columns; ++j) o[j] = a[j] + row[j];
        }
    }
    void store16(int r, const float* row, int64_t columns) const {
#if defined(__AVX512BF16__)
        at::BFloat16* o = out16 + r * ldo;
        const float* a = add == nullptr ? nullptr : add + r * ldadd;
        for (int64_t j = 0; j < columns; j += 16) {
            const __mmask16 m = columns - j >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (columns - j)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(m, row + j);
            if (a != nullptr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, a + j));
            _mm256_mask_storeu_epi16(o + j, m, (__m256i)_mm512_cvtneps_pbh(v));
        }
#else
        TORCH_CHECK(false, "panel_addmm: a bfloat16 out needs AVX512-BF16");
#endif
    }
};

// v, held in a register from here on: each panel vector is loaded once for all R rows of a block,
// where the compiler, left to itself, folds the load into every multiply-add (R loads a vector: 20
// loads for 16 multiply-adds in a 4 x 64 block, more than the core's two vector loads a cycle keep
// up with). Measured on one thread: LSTM(32) whole step -10%, GRU(1024) (64 x 1024 x 3072 a step)
// -14%.
// (Only where a vector is one register, i.e. with AVX's 256-bit registers or wider: elsewhere, e.g.
// SSE or NEON, the compiler splits it and there is no single register to name.)
inline fvec in_register(fvec v) {
#if defined(__AVX__)
    asm("" : "+v"(v));
#endif
    return v;
}

// R rows of a (element (r, k) at a[r * lda + k * ka]) times one float32 panel (K rows of `stride`
// floats), `columns` of them kept.
template <int R, int V>
inline void panel_rows(const Destination& to, const float* a, int64_t lda, int64_t ka, const float* panel, int64_t K,
                       int64_t stride, int64_t columns) {
    fvec acc[R][V] = {};
    for (int64_t k = 0; k < K; ++k) {
        fvec w[V];
        for (int v = 0; v < V; ++v) w[v] = in_register(reinterpret_cast<const fvec*>(panel + k * stride)[v]);
        for (int r = 0; r < R; ++r) {
            const float s = a[r * lda + k * ka];
            for (int v = 0; v < V; ++v) acc[r][v] += s * w[v];
        }
    }
    if (to.out16 == nullptr && columns == V * LANES) {  // whole vectors, float32: straight from the registers
        for (int r = 0; r < R; ++r) {
            fvec* o = reinterpret_cast<fvec*>(to.out + r * to.ldo);
            const fvec* add = reinterpret_cast<const fvec*>(to.add + r * to.ldadd);
            for (int v = 0; v < V; ++v) o[v] = to.add == nullptr ? acc[r][v] : add[v] + acc[r][v];
        }
        return;
    }
    for (int r = 0; r < R; ++r) {
        float row[PANEL];
        for (int v = 0; v < V; ++v) *reinterpret_cast<fvec*>(row + LANES * v) = acc[r][v];
        to.store(r, row, columns);
    }
}

#if defined(__AVX512BF16__)
// The same for a bfloat16 panel: `a` holds each row's pairs (k, k+1) rounded to bfloat16, one 32-bit
// word per pair; the product is rounded to bfloat16 before the addend, as a bfloat16 GEMM's output is.
template <int R, int V>
inline void panel_rows(const Destination& to, const uint32_t* a, int64_t lda, int64_t ka, const at::BFloat16* panel,
                       int64_t pairs, int64_t stride, int64_t columns) {
    __m512 acc[R][V];
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < pairs; ++k) {
        __m512bh w[V];
        for (int v = 0; v < V; ++v) w[v] = (__m512bh)_mm512_loadu_si512(panel + 2 * (k * stride + 16 * v));
        for (int r = 0; r < R; ++r) {
            const __m512bh s = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[r * lda + k * ka]));
            for (int v = 0; v < V; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], s, w[v]);
        }
    }
    for (int r = 0; r < R; ++r) {
        float row[PANEL];
        for (int v = 0; v < V; ++v) _mm512_storeu_ps(row + 16 * v, _mm512_cvtpbh_ps(_mm512_cvtneps_pbh(acc[r][v])));
        to.store(r, row, columns);
    }
}
#endif

// Rows b.. of a over one panel of V vectors, R at a time (each load of the panel serves them all),
// then the rest in blocks of R/2, R/4, ... rows.
template <int R, int V, typename A, typename P>
inline void row_blocks(const Destination& to, const A* a, int64_t lda, int64_t ka, int64_t b, int64_t B,
                       const P* panel, int64_t rows, int64_t stride, int64_t columns) {
    for (; b + R <= B; b += R) {
        panel_rows<R, V>(to.shifted(b, 0), a + b * lda, lda, ka, panel, rows, stride, columns);
    }
    if constexpr (R > 1) row_blocks<R / 2, V>(to, a, lda, ka, b, B, panel, rows, stride, columns);
}

// All B rows of a over one panel of V vectors, SUMS / V rows at a time.
template <int V, typename A, typename P>
inline void panel_column(const Destination& to, const A* a, int64_t lda, int64_t ka, int64_t B, const P* panel,
                         int64_t rows, int64_t stride, int64_t columns) {
    row_blocks<SUMS / V, V>(to, a, lda, ka, 0, B, panel, rows, stride, columns);
}

// to = (B, N) product of a (element (b, k) at a[b * lda + k * ka]) and W (`rows` rows: K, or K/2
// bfloat16 pairs of two elements): packed by pack_panels (ldw 0), or, float32 with N a multiple of
// the vector width, W's own rows (row stride ldw), read in place as panels. Panels split among
// threads, each task at least kTaskWork multiply-adds.
template <typename A, typename P>
void panel_product(const Destination& to, int64_t N, const A* a, int64_t lda, int64_t ka, int64_t B, const P* w,
                   int64_t rows, int64_t ldw = 0) {
    constexpr int64_t depth = std::is_same<P, float>::value ? 1 : 2;
    const int64_t count = (N + PANEL - 1) / PANEL;
    const int64_t grain = std::max<int64_t>(1, kTaskWork / (B * rows * depth * PANEL));
    at::parallel_for(0, count, grain, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
            const int64_t width = panel_width(N, p), columns = std::min(width, N - p * PANEL);
            const P* panel = ldw == 0 ? w + p * PANEL * rows * depth : w + p * PANEL;
            const int64_t stride = ldw == 0 ? width : ldw;
            const Destination d = to.shifted(0, p * PANEL);
            switch (width / LANES) {
                case 4: panel_column<4>(d, a, lda, ka, B, panel, rows, stride, columns); break;
                case 3: panel_column<3>(d, a, lda, ka, B, panel, rows, stride, columns); break;
                case 2: panel_column<2>(d, a, lda, ka, B, panel, rows, stride, columns); break;
                default: panel_column<1>(d, a, lda, ka, B, panel, rows, stride, columns); break;
            }
        }
    });
}

// to = B rows of a (row stride lda, K columns) @ W (N columns) for W packed by pack_panels (float32
// or bfloat16 panels).
void panel_rows_product(const Destination& to, const float* a, int64_t lda, int64_t B, int64_t K, int64_t N,
                        const torch::Tensor& panels) {
    if (panels.scalar_type() == at::kFloat) {
        panel_product(to, N, a, lda, 1, B, panels.data_ptr<float>(), K);
        return;
    }
#if defined(__AVX512BF16__)
    const int64_t pairs = (K + 1) / 2;
    // a's rows as bfloat16 pairs: a row rounded to bfloat16 (nearest even) in place of its floats is
    // its pairs (k, k+1) as 32-bit words, with a zero after an odd last element; 16 at a time.
    std::vector<uint32_t> rounded(B * pairs);
    for (int64_t b = 0; b < B; ++b) {
        const float* row = a + b * lda;
        auto* out = reinterpret_cast<uint16_t*>(rounded.data() + b * pairs);
        for (int64_t k = 0; k < K; k += 16) {
            const __mmask16 m = K - k >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (K - k)) - 1);
            _mm256_mask_storeu_epi16(out + k, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, row + k)));
        }
        if (K % 2 == 1) out[K] = 0;
    }
    panel_product(to, N, rounded.data(), pairs, 1, B, panels.data_ptr<at::BFloat16>(), pairs);
#else
    TORCH_CHECK(false, "panel_addmm: bfloat16 panels need AVX512-BF16");
#endif
}

// Rows of a 2-D float32 tensor (or a 1-D one shared by all rows): their stride.
inline int64_t row_stride(const torch::Tensor& t, const char* name) {
    TORCH_CHECK(t.scalar_type() == at::kFloat && t.stride(-1) == 1, "panel_addmm: ", name,
                " must be float32 with contiguous rows");
    return t.dim() == 1 ? 0 : t.stride(0);
}

// out (B, N) = addend + a (B, K) @ W for W packed by pack_panels (float32 or bfloat16 panels). out,
// a and a 2-D addend may be row views of larger tensors (rows contiguous); the addend may be out
// itself, (N) for one row added to all, or empty (or undefined) for none.
void panel_addmm(torch::Tensor out, const torch::Tensor& addend, const torch::Tensor& a, const torch::Tensor& panels) {
    const bool add = addend.defined() && addend.numel() > 0;
    const bool out16 = out.scalar_type() == at::kBFloat16;
    TORCH_CHECK(!out16 || out.stride(-1) == 1, "panel_addmm: a bfloat16 out must have contiguous rows");
    const Destination to{out16 ? nullptr : out.data_ptr<float>(), out16 ? out.stride(0) : row_stride(out, "out"),
                         add ? addend.data_ptr<float>() : nullptr, add ? row_stride(addend, "addend") : 0,
                         out16 ? out.data_ptr<at::BFloat16>() : nullptr};
#if defined(__AVX512BF16__)
    if (a.scalar_type() == at::kBFloat16 && panels.scalar_type() == at::kBFloat16 && a.stride(1) == 1
        && a.size(1) % 2 == 0 && a.stride(0) % 2 == 0) {
        // bfloat16 rows of even length are already their pairs: no rounding pass.
        const int64_t pairs = a.size(1) / 2;
        panel_product(to, out.size(1), reinterpret_cast<const uint32_t*>(a.data_ptr<at::BFloat16>()), a.stride(0) / 2,
                      1, a.size(0), panels.data_ptr<at::BFloat16>(), pairs);
        return;
    }
#endif
    if (a.scalar_type() != at::kFloat) {
        auto af = a.to(at::kFloat).contiguous();
        panel_rows_product(to, af.data_ptr<float>(), af.size(1), af.size(0), af.size(1), out.size(1), panels);
        return;
    }
    panel_rows_product(to, a.data_ptr<float>(), row_stride(a, "a"), a.size(0), a.size(1), out.size(1), panels);
}

// Mixed precision: every sequence kernel takes the recurrent matrix U either in float32 (exact
// float32 products, as always) or in a lower precision (bfloat16 under a mixed policy, cast once
// per call). In the second case each product rounds its float32 operands to U's type and runs there,
// accumulating in float32 (the panel product's vdpbf16ps, the weight gradients included; torch's GEMM,
// i.e. oneDNN, where the CPU lacks AVX512-BF16); its result, rounded to U's type, is added into
// float32, so the gate arithmetic and the states stay float32.

// Weight gradients a^T d (a (n, H): the layer's inputs or previous states over all steps, d (n, G):
// the gate gradients) are summed over blocks of this many rows: each block's operands are transposed
// or converted on their own, so that no full-size copy of them exists at once (the peak memory of a
// step stays that of its activations), and 1024 rows keep each block's product deep enough for full
// speed.
constexpr int64_t kWeightGradientRows = 1024;

// dU += a^T d for the float32 blocks a (n, H) and d (n, G) on the panel product: in float32, or in
// bfloat16 pairs where the CPU has AVX512-BF16 (a transposed, d packed, as for large states below);
// in any other low precision `type` as torch's GEMM, its product rounded to it. In float32, a block whose states a
// fit in half a core's L2 cache (kInPlaceStateBytes: H <= 128 at 1024 rows) is read in place, a^T's
// element (i, k) at a[k H + i], and d's rows serve as panels as they are (packed only where G is not a
// multiple of the vector width, so that no load runs past d's end): no transposed or packed copies,
// whose making cost as much as the product at small sizes (LSTM(32), batch 32 x 50: 100 -> 60 us a
// step). Larger states are transposed and d packed: each of its panels, 256 KB for 1024 rows, stays
// in the core's cache while a^T's rows pass over it, where reading a in place re-reads each of its
// cache lines from further away for every 4 rows of dU (GRU(1024): 15% slower, measured). Same sums
// in the same order either way.
constexpr int64_t kInPlaceStateBytes = 512 << 10;
void add_block_product_(torch::Tensor& dU, const torch::Tensor& a, const torch::Tensor& d, at::ScalarType type) {
    const bool bfloat16 = type == at::kBFloat16 && kPanelBfloat16;
    if (type != at::kFloat && !bfloat16) {
        dU.add_(a.to(type).t().mm(d.to(type)));
        return;
    }
    float* dU_p = dU.data_ptr<float>();
    const int64_t n = a.size(0), H = a.size(1), G = d.size(1);
    const Destination to{dU_p, G, dU_p, G};
    if (bfloat16 || n * H * static_cast<int64_t>(sizeof(float)) > kInPlaceStateBytes) {
        auto a_t = a.t().contiguous();  // (H, n); in bfloat16 its rows are rounded to pairs
        panel_rows_product(to, a_t.data_ptr<float>(), n, H, n, G, pack_panels(d, bfloat16));
        return;
    }
    auto a_c = a.contiguous(), d_c = d.contiguous();
    const float* a_p = a_c.data_ptr<float>();
    if (G % LANES == 0) {
        panel_product(to, G, a_p, 1, H, H, d_c.data_ptr<float>(), n, G);
    } else {  // rows whose last vector would run past d's end: packed
        panel_product(to, G, a_p, 1, H, H, pack_panels(d_c, false).data_ptr<float>(), n);
    }
}

// The weight gradient a^T d (float32) of U, in U's precision.
torch::Tensor weight_product(const torch::Tensor& a, const torch::Tensor& d, const torch::Tensor& U) {
    auto dU = torch::zeros({a.size(1), d.size(1)}, a.options());
    for (int64_t r = 0; r < a.size(0); r += kWeightGradientRows) {
        const int64_t n = std::min(kWeightGradientRows, a.size(0) - r);
        add_block_product_(dU, a.narrow(0, r, n), d.narrow(0, r, n), U.scalar_type());
    }
    return dU;
}

// dU = sum over steps of h_{t-1}^T d_t, over blocks of whole sequences, each block's h_{t-1} built on
// its own.
torch::Tensor recurrent_weight_gradient(const torch::Tensor& h0, const torch::Tensor& hs, const torch::Tensor& d,
                                        const torch::Tensor& U) {
    const int64_t B = hs.size(0), T = hs.size(1), H = hs.size(2), G = d.size(2);
    auto previous = [&](int64_t b, int64_t n) {  // (n T, H): h_{t-1} of samples b..b+n
        return torch::cat({h0.narrow(0, b, n).unsqueeze(1), hs.narrow(0, b, n).narrow(1, 0, T - 1)}, 1).reshape({n * T, H});
    };
    auto dU = torch::zeros({H, G}, hs.options());
    const int64_t per_block = std::max<int64_t>(1, kWeightGradientRows / T);
    for (int64_t b = 0; b < B; b += per_block) {
        const int64_t n = std::min(per_block, B - b);
        add_block_product_(dU, previous(b, n), d.narrow(0, b, n).reshape({n * T, G}), U.scalar_type());
    }
    return dU;
}

// A weight the sequence kernels multiply by at every step: packed in panels where the panel product
// runs it (float32; bfloat16 where the CPU has AVX512-BF16) and the call has enough rows to repay the
// packing, else as it is for torch's GEMM (float16, bfloat16 without AVX512-BF16).
struct StepWeight {
    torch::Tensor plain;   // (K, N), possibly a transposed view
    torch::Tensor panels;  // pack_panels(plain), or undefined
};

// Whether packing a weight of `elements` pays for itself over `row_steps` (batch x steps) rows of
// products. Measured on one thread (AMD EPYC): packing costs ~0.9 ns an element (GRU(1024)'s U: 2.7 ms);
// each row-step then saves torch's per-call cost (~2 us) and ~0.012 ns an element (one row of
// GRU(1024): MKL 140 us, panels 102). So a 50 x 50 weight pays from 2 row-steps and GRU(1024)'s from
// ~72; one token at a time (sampling, a stateful layer fed step by step) keeps torch's GEMM. A
// bfloat16 weight (a mixed policy) is always packed, its packing vectorised (~0.1 ns an element):
// torch's bfloat16 GEMM is oneDNN's, whose code and per-shape kernels, mapped for the life of the
// process at its first call, would raise a mixed step's peak memory above float32's (one row of
// GRU(1024): packing 0.25 ms + product 0.06 ms, against oneDNN's 0.25 ms).
inline bool packing_pays(int64_t elements, int64_t row_steps) {
    return row_steps * (elements + 166667) > 75 * elements;  // both sides divided by 0.012 ns
}

StepWeight step_weight(const torch::Tensor& W, int64_t row_steps) {
    const bool bfloat16 = W.scalar_type() == at::kBFloat16;
    if ((bfloat16 && kPanelBfloat16) || (W.scalar_type() == at::kFloat && packing_pays(W.numel(), row_steps))) {
        return {W, pack_panels(W, bfloat16)};
    }
    return {W, torch::Tensor()};
}

// out = addend + a b (no addend: out = a b) for rows given as tensor views; b packed, or as it is for
// torch's GEMM (float32, or a low precision: see above).
void product_out(torch::Tensor out, const torch::Tensor& addend, const torch::Tensor& a, const StepWeight& b) {
    if (b.panels.defined()) {
        panel_addmm(out, addend, a, b.panels);
        return;
    }
    if (b.plain.scalar_type() == out.scalar_type()) {
        addend.defined() ? at::addmm_out(out, addend, a, b.plain) : at::mm_out(out, a, b.plain);
        return;
    }
    auto product = at::mm(a.to(b.plain.scalar_type()), b.plain);
    addend.defined() ? at::add_out(out, addend, product) : out.copy_(product);
}

// The same for rows given by pointers: to = B rows of a (row stride lda) @ w. A packed weight runs the
// panel product on the pointers themselves, where making tensor views of the rows at every step would
// cost more than a small product (LSTM(32), batch 32: ~4 us of arithmetic); a plain one torch's GEMM,
// on views.
void step_product(const StepWeight& w, const Destination& to, const float* a, int64_t lda, int64_t B) {
    const int64_t K = w.plain.size(0), N = w.plain.size(1);
    if (w.panels.defined()) {
        panel_rows_product(to, a, lda, B, K, N, w.panels);
        return;
    }
    const auto options = torch::TensorOptions().dtype(at::kFloat);
    auto rows = [&](const float* data, int64_t columns, int64_t stride) {
        return torch::from_blob(const_cast<float*>(data), {B, columns}, {stride, 1}, options);
    };
    torch::Tensor addend;
    if (to.add != nullptr) {
        addend = to.ldadd == 0 ? torch::from_blob(const_cast<float*>(to.add), {N}, options) : rows(to.add, N, to.ldadd);
    }
    product_out(rows(to.out, N, to.ldo), addend, rows(a, K, lda), w);
}

// tanh as a clamped rational function (the odd 13/6 approximation used by Eigen): libm's tanhf
// does not vectorise here and costs ~20 ns a call. Within 4e-7 of tanh everywhere, and
// relatively accurate near 0 (unlike 2 sigmoid(2x) - 1); tests/engine/test_native.py checks it.
inline float fast_tanh(float x) {
    const float c = 7.90531110763549805f;
    x = x < -c ? -c : (x > c ? c : x);
    const float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return x * p / q;
}

// sigmoid(x) = (1 + tanh(x / 2)) / 2 on fast_tanh: within 2e-7 of the logistic function (absolute),
// where 1 / (1 + expf(-x)) costs a call into glibc's vector expf and a division per 16 lanes (the
// LSTM's three sigmoid gates: ~15% of an LSTM(32) step's gate loop).
inline float sigmoid(float x) { return 0.5f * fast_tanh(0.5f * x) + 0.5f; }

// One step's gate arithmetic for one sample. z holds the pre-activations [i f g o] on entry
// and the activations on exit.
inline void forward_row(float* __restrict z, const float* __restrict c_prev, const float* __restrict h_prev,
                        float* __restrict c_out, float* __restrict h_out, int64_t H, bool keep) {
    float* zi = z;
    float* zf = z + H;
    float* zg = z + 2 * H;
    float* zo = z + 3 * H;
    for (int64_t j = 0; j < H; ++j) {
        const float i = sigmoid(zi[j]), f = sigmoid(zf[j]), g = fast_tanh(zg[j]), o = sigmoid(zo[j]);
        zi[j] = i;
        zf[j] = f;
        zg[j] = g;
        zo[j] = o;
        const float c = f * c_prev[j] + i * g;
        c_out[j] = c;
        h_out[j] = o * fast_tanh(c);
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
        const float tc = fast_tanh(c[j]);
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
    auto gates = reusable_empty(xp.sizes(), xp.options());
    auto hs = reusable_empty({B, T, H}, xp.options());
    auto cs = reusable_empty({B, T, H}, xp.options());
    const bool* keep_p = keep_data(keep);
    float* g_p = gates.data_ptr<float>();
    float* h_p = hs.data_ptr<float>();
    float* c_p = cs.data_ptr<float>();
    const float* h0_p = h0.data_ptr<float>();
    const float* c0_p = c0.data_ptr<float>();
    xp = xp.contiguous();  // step_product reads rows by pointer arithmetic
    const float* xp_p = xp.data_ptr<float>();
    const StepWeight Uw = step_weight(U, B * T);
    for (int64_t t = 0; t < T; ++t) {
        step_product(Uw, {g_p + t * 4 * H, T * 4 * H, xp_p + t * 4 * H, T * 4 * H}, t == 0 ? h0_p : h_p + (t - 1) * H,
                     t == 0 ? H : T * H, B);
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const float* c_prev = previous_row(c0_p, c_p, b, t, T, H);
                const float* h_prev = previous_row(h0_p, h_p, b, t, T, H);
                forward_row(g_p + (b * T + t) * 4 * H, c_prev, h_prev, c_p + (b * T + t) * H, h_p + (b * T + t) * H,
                            H, kept(keep_p, b * T + t));
            }
        });
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
    auto d_gates = reusable_empty(gates.sizes(), gates.options());
    const StepWeight Ut = step_weight(U.t(), B * T);
    auto gc = d_c_last.clone().contiguous();
    auto gc_prev = torch::empty({B, H}, hs.options());
    auto h_carry = torch::empty({B, H}, hs.options());
    auto gh_next = torch::zeros({B, H}, hs.options());
    auto gh_in = torch::empty({B, H}, hs.options());
    const bool* keep_p = keep_data(keep);
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
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const float* c_prev = previous_row(c0_p, c_p, b, t, T, H);
                backward_row(g_p + (b * T + t) * 4 * H, c_p + (b * T + t) * H, c_prev, dh_p + (b * T + t) * H,
                             ghi_p + b * H, gc_p + b * H, dz_p + (b * T + t) * 4 * H, gcp_p + b * H, hc_p + b * H, H,
                             kept(keep_p, b * T + t));
            }
        });
        step_product(Ut, {gh_next.data_ptr<float>(), H, hc_p, H}, dz_p + t * 4 * H, T * 4 * H, B);
        std::swap(gc, gc_prev);
    }
    return {d_gates, recurrent_weight_gradient(h0, hs, d_gates, U), gh_next, gc};
}

// ------------------------------------------------------------- LSTM over nested (padded) masks
namespace {

// Rows order[0..n) of x (B, T, width) at step t, copied one after the other into out (n, width).
void gather_rows(const float* x, const int64_t* order, int64_t n, int64_t t, int64_t T, int64_t width, float* out) {
    for (int64_t b = 0; b < n; ++b) {
        const float* src = x + (order[b] * T + t) * width;
        for (int64_t j = 0; j < width; ++j) out[b * width + j] = src[j];
    }
}

}  // namespace

// When the rows kept at each step are the first counts[t] rows of one ordering `order` of the
// batch (right-padded sequences sorted by length, or left-padded ones), a step only touches its
// active rows: the GEMM runs on counts[t] rows and the finished (or not yet started) rows just
// carry their state, as masked steps do. Activations are stored packed, step after step, for
// the active rows only, so that dU is one GEMM over the sum of counts rather than B * T rows.
// Same equations, same per-row arithmetic as lstm_forward / lstm_backward.

// xp (B, T, 4H), U (H, 4H), h0/c0 (B, H), order (B) int64, counts (T) int64 ->
// hs (B, T, H), c_last (B, H), and packed (S = sum counts rows): gates (S, 4H), c (S, H),
// c_prev (S, H), h_prev (S, H).
std::vector<torch::Tensor> lstm_forward_nested(torch::Tensor xp, torch::Tensor U, torch::Tensor h0,
                                               torch::Tensor c0, torch::Tensor order, torch::Tensor counts) {
    const int64_t B = xp.size(0), T = xp.size(1), H = U.size(0);
    const int64_t* order_p = order.data_ptr<int64_t>();
    const int64_t* n_p = counts.data_ptr<int64_t>();
    const int64_t S = counts.sum().item<int64_t>();
    auto hs = torch::empty({B, T, H}, xp.options());
    auto gates = torch::empty({S, 4 * H}, xp.options());
    auto c_new = torch::empty({S, H}, xp.options());
    auto c_prev = torch::empty({S, H}, xp.options());
    auto h_prev = torch::empty({S, H}, xp.options());
    auto h = h0.index_select(0, order).contiguous();  // states in sorted order
    auto c = c0.index_select(0, order).contiguous();
    const float* x_p = xp.data_ptr<float>();
    float* hs_p = hs.data_ptr<float>();
    float* g_p = gates.data_ptr<float>();
    float* cn_p = c_new.data_ptr<float>();
    float* cp_p = c_prev.data_ptr<float>();
    float* hp_p = h_prev.data_ptr<float>();
    float* h_p = h.data_ptr<float>();
    float* c_p = c.data_ptr<float>();
    const StepWeight Uw = step_weight(U, B * T);
    int64_t offset = 0;
    for (int64_t t = 0; t < T; ++t) {
        const int64_t n = n_p[t];
        if (n > 0) {
            // z = xp_t + h U with xp_t as the GEMM's addend, as in lstm_forward (the same rounding).
            gather_rows(x_p, order_p, n, t, T, 4 * H, g_p + offset * 4 * H);
            product_out(gates.narrow(0, offset, n), gates.narrow(0, offset, n), h.narrow(0, 0, n), Uw);
        }
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                float* out = hs_p + (order_p[b] * T + t) * H;
                float* hb = h_p + b * H;
                float* cb = c_p + b * H;
                if (b >= n) {  // a masked step carries the state through
                    for (int64_t j = 0; j < H; ++j) out[j] = hb[j];
                    continue;
                }
                const int64_t row = offset + b;
                float* z = g_p + row * 4 * H;
                for (int64_t j = 0; j < H; ++j) {
                    hp_p[row * H + j] = hb[j];
                    cp_p[row * H + j] = cb[j];
                }
                forward_row(z, cp_p + row * H, hp_p + row * H, cn_p + row * H, out, H, true);
                for (int64_t j = 0; j < H; ++j) {
                    cb[j] = cn_p[row * H + j];
                    hb[j] = out[j];
                }
            }
        });
        offset += n;
    }
    auto c_last = torch::empty({B, H}, xp.options());
    c_last.index_copy_(0, order, c);
    return {hs, c_last, gates, c_new, c_prev, h_prev};
}

// Gradients of lstm_forward_nested: (d_xp (B, T, 4H), dU (H, 4H), dh0, dc0).
std::vector<torch::Tensor> lstm_backward_nested(torch::Tensor d_hs, torch::Tensor d_c_last, torch::Tensor U,
                                                torch::Tensor order, torch::Tensor counts, torch::Tensor gates,
                                                torch::Tensor c_new, torch::Tensor c_prev, torch::Tensor h_prev) {
    const int64_t B = d_hs.size(0), T = d_hs.size(1), H = U.size(0);
    const int64_t S = gates.size(0);
    d_hs = d_hs.contiguous();
    const int64_t* order_p = order.data_ptr<int64_t>();
    const int64_t* n_p = counts.data_ptr<int64_t>();
    auto d_xp = torch::empty({B, T, 4 * H}, gates.options());  // every row written below, zeros when masked
    auto dz = torch::empty({S, 4 * H}, gates.options());
    const StepWeight Ut = step_weight(U.t(), B * T);
    auto gh = torch::zeros({B, H}, gates.options());  // dL/dh_t in sorted order
    auto gc = d_c_last.index_select(0, order).contiguous();
    auto gc_prev = torch::empty({B, H}, gates.options());
    auto carry = torch::empty({B, H}, gates.options());  // backward_row's bypass output: 0 on kept steps
    const float* g_p = gates.data_ptr<float>();
    const float* cn_p = c_new.data_ptr<float>();
    const float* cp_p = c_prev.data_ptr<float>();
    const float* dh_p = d_hs.data_ptr<float>();
    float* dx_p = d_xp.data_ptr<float>();
    float* dz_p = dz.data_ptr<float>();
    float* gh_p = gh.data_ptr<float>();
    float* gc_p = gc.data_ptr<float>();
    float* gc_prev_p = gc_prev.data_ptr<float>();
    float* carry_p = carry.data_ptr<float>();
    int64_t offset = S;
    for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t n = n_p[t];
        offset -= n;
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const float* d_out = dh_p + (order_p[b] * T + t) * H;
                float* ghb = gh_p + b * H;
                float* dxb = dx_p + (order_p[b] * T + t) * 4 * H;
                if (b >= n) {  // masked: the whole gradient flows to h_{t-1}, c's is unchanged
                    for (int64_t j = 0; j < H; ++j) ghb[j] += d_out[j];
                    for (int64_t j = 0; j < 4 * H; ++j) dxb[j] = 0.f;
                    continue;
                }
                const int64_t row = offset + b;
                float* dzb = dz_p + row * 4 * H;
                float* gcb = gc_p + b * H;
                backward_row(g_p + row * 4 * H, cn_p + row * H, cp_p + row * H, d_out, ghb, gcb, dzb,
                             gc_prev_p + b * H, carry_p + b * H, H, true);
                for (int64_t j = 0; j < H; ++j) gcb[j] = gc_prev_p[b * H + j];
                for (int64_t j = 0; j < 4 * H; ++j) dxb[j] = dzb[j];
            }
        });
        if (n > 0) {
            auto gh_active = gh.narrow(0, 0, n);
            product_out(gh_active, {}, dz.narrow(0, offset, n), Ut);
        }
    }
    auto dh0 = torch::empty({B, H}, gates.options());
    auto dc0 = torch::empty({B, H}, gates.options());
    dh0.index_copy_(0, order, gh);
    dc0.index_copy_(0, order, gc);
    return {d_xp, weight_product(h_prev, dz, U), dh0, dc0};
}

// ---------------------------------------------------------------------------------- SimpleRNN
// Activation codes: 0 tanh, 1 relu, 2 sigmoid, 3 linear.
namespace {

inline float activate(float a, int kind) {
    switch (kind) {
        case 0: return fast_tanh(a);
        case 1: return a > 0.f ? a : 0.f;
        case 2: return sigmoid(a);
        default: return a;
    }
}

// act'(a) from y = act(a)
inline float activation_slope(float y, int kind) {
    switch (kind) {
        case 0: return 1.f - y * y;
        case 1: return y > 0.f ? 1.f : 0.f;
        case 2: return y * (1.f - y);
        default: return 1.f;
    }
}

template <int Kind>
void activate_row(float* __restrict a, int64_t H) {
    for (int64_t j = 0; j < H; ++j) a[j] = activate(a[j], Kind);
}

// The activation is chosen outside the loop so that each loop is branch-free and vectorises.
inline void activate_row(float* a, int64_t H, int kind) {
    switch (kind) {
        case 0: activate_row<0>(a, H); break;
        case 1: activate_row<1>(a, H); break;
        case 2: activate_row<2>(a, H); break;
        default: break;
    }
}

template <int Kind>
void simple_rnn_backward_row(const float* __restrict y, const float* __restrict d_out, const float* __restrict g_in,
                             float* __restrict da, float* __restrict carry, int64_t H) {
    for (int64_t j = 0; j < H; ++j) {
        da[j] = (d_out[j] + g_in[j]) * activation_slope(y[j], Kind);
        carry[j] = 0.f;
    }
}

inline void simple_rnn_backward_row(const float* y, const float* d_out, const float* g_in, float* da, float* carry,
                                    int64_t H, int kind) {
    switch (kind) {
        case 0: simple_rnn_backward_row<0>(y, d_out, g_in, da, carry, H); break;
        case 1: simple_rnn_backward_row<1>(y, d_out, g_in, da, carry, H); break;
        case 2: simple_rnn_backward_row<2>(y, d_out, g_in, da, carry, H); break;
        default: simple_rnn_backward_row<3>(y, d_out, g_in, da, carry, H); break;
    }
}

// A masked step: no gradient to its gates, the whole of dL/dh_t flows to h_{t-1}.
inline void masked_backward_row(const float* __restrict d_out, const float* __restrict g_in, float* __restrict dz,
                                int64_t width, float* __restrict carry, int64_t H) {
    for (int64_t j = 0; j < width; ++j) dz[j] = 0.f;
    for (int64_t j = 0; j < H; ++j) carry[j] = d_out[j] + g_in[j];
}

}  // namespace

// xp (B, T, H), U (H, H), h0 (B, H), keep (B, T) or empty -> hs (B, T, H)
torch::Tensor simple_rnn_forward(torch::Tensor xp, torch::Tensor U, torch::Tensor h0, torch::Tensor keep,
                                 int64_t kind) {
    const int64_t B = xp.size(0), T = xp.size(1), H = U.size(0);
    auto hs = reusable_empty(xp.sizes(), xp.options());
    const bool* keep_p = keep_data(keep);
    float* h_p = hs.data_ptr<float>();
    const float* h0_p = h0.data_ptr<float>();
    xp = xp.contiguous();  // step_product reads rows by pointer arithmetic
    const float* xp_p = xp.data_ptr<float>();
    const StepWeight Uw = step_weight(U, B * T);
    for (int64_t t = 0; t < T; ++t) {
        step_product(Uw, {h_p + t * H, T * H, xp_p + t * H, T * H}, t == 0 ? h0_p : h_p + (t - 1) * H,
                     t == 0 ? H : T * H, B);
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                float* __restrict out = h_p + (b * T + t) * H;
                const float* __restrict prev = previous_row(h0_p, h_p, b, t, T, H);
                if (kept(keep_p, b * T + t)) {
                    activate_row(out, H, kind);
                } else {
                    for (int64_t j = 0; j < H; ++j) out[j] = prev[j];
                }
            }
        });
    }
    return hs;
}

// -> (d_xp (B, T, H), dU, dh0)
std::vector<torch::Tensor> simple_rnn_backward(torch::Tensor d_hs, torch::Tensor U, torch::Tensor h0,
                                               torch::Tensor hs, torch::Tensor keep, int64_t kind) {
    const int64_t B = hs.size(0), T = hs.size(1), H = hs.size(2);
    d_hs = d_hs.contiguous();
    auto d_pre = reusable_empty(hs.sizes(), hs.options());
    const StepWeight Ut = step_weight(U.t(), B * T);
    auto g_next = torch::zeros({B, H}, hs.options());
    auto g_in = torch::empty({B, H}, hs.options());
    auto carry = torch::empty({B, H}, hs.options());
    const bool* keep_p = keep_data(keep);
    const float* h_p = hs.data_ptr<float>();
    const float* dh_p = d_hs.data_ptr<float>();
    float* da_p = d_pre.data_ptr<float>();
    for (int64_t t = T - 1; t >= 0; --t) {
        std::swap(g_in, g_next);
        const float* gi_p = g_in.data_ptr<float>();
        float* c_p = carry.data_ptr<float>();
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const int64_t row = (b * T + t) * H;
                if (kept(keep_p, b * T + t)) {
                    simple_rnn_backward_row(h_p + row, dh_p + row, gi_p + b * H, da_p + row, c_p + b * H, H, kind);
                } else {
                    masked_backward_row(dh_p + row, gi_p + b * H, da_p + row, H, c_p + b * H, H);
                }
            }
        });
        step_product(Ut, {g_next.data_ptr<float>(), H, c_p, H}, da_p + t * H, T * H, B);
    }
    return {d_pre, recurrent_weight_gradient(h0, hs, d_pre, U), g_next};
}

// ---------------------------------------------------------------------------------------- GRU
// reset_after=True: u = h U + b_rec; z = sigmoid(xz + uz), r = sigmoid(xr + ur),
// hh = tanh(xh + r uh), h = hh + z (h_prev - hh).

namespace {

void gru_forward_row(const float* __restrict x, const float* __restrict u, const float* __restrict prev,
                     float* __restrict gates, float* __restrict u_h, float* __restrict out, int64_t H) {
    for (int64_t j = 0; j < H; ++j) {
        const float z = sigmoid(x[j] + u[j]);
        const float r = sigmoid(x[H + j] + u[H + j]);
        const float hh = fast_tanh(x[2 * H + j] + r * u[2 * H + j]);
        gates[j] = z;
        gates[H + j] = r;
        gates[2 * H + j] = hh;
        u_h[j] = u[2 * H + j];
        out[j] = hh + z * (prev[j] - hh);
    }
}

// du = dL/du = [dz', dr', r da_h] (the gradient of u = h U + b_rec); dL/dxp is the same but for its
// h part, da_h, written separately.
void gru_backward_row(const float* __restrict gates, const float* __restrict u_h, const float* __restrict prev,
                      const float* __restrict d_out, const float* __restrict g_in, float* __restrict du,
                      float* __restrict da_h_out, float* __restrict carry, int64_t H) {
    for (int64_t j = 0; j < H; ++j) {
        const float g = d_out[j] + g_in[j];
        const float z = gates[j], r = gates[H + j], hh = gates[2 * H + j];
        const float dz = g * (prev[j] - hh) * z * (1.f - z);
        const float da_h = g * (1.f - z) * (1.f - hh * hh);
        const float dr = da_h * u_h[j] * r * (1.f - r);
        du[j] = dz;
        du[H + j] = dr;
        du[2 * H + j] = r * da_h;
        da_h_out[j] = da_h;
        carry[j] = g * z;
    }
}

}  // namespace

// xp (B, T, 3H), U (H, 3H), b_rec (3H) or empty, h0 (B, H), keep (B, T) or empty
// -> gates (B, T, 3H) = [z, r, hh], u_h (B, T, H), hs (B, T, H)
std::vector<torch::Tensor> gru_forward(torch::Tensor xp, torch::Tensor U, torch::Tensor b_rec, torch::Tensor h0,
                                       torch::Tensor keep) {
    const int64_t B = xp.size(0), T = xp.size(1), H = U.size(0);
    auto gates = reusable_empty(xp.sizes(), xp.options());
    auto inner = reusable_empty({B, T, H}, xp.options());
    auto hs = reusable_empty({B, T, H}, xp.options());
    auto u = torch::empty({B, 3 * H}, xp.options());
    const bool has_bias = b_rec.numel() > 0;
    const bool* keep_p = keep_data(keep);
    const float* x_p = xp.data_ptr<float>();
    float* g_p = gates.data_ptr<float>();
    float* in_p = inner.data_ptr<float>();
    float* h_p = hs.data_ptr<float>();
    const float* h0_p = h0.data_ptr<float>();
    const StepWeight Uw = step_weight(U, B * T);
    torch::Tensor h = h0;
    for (int64_t t = 0; t < T; ++t) {
        product_out(u, has_bias ? b_rec : torch::Tensor(), h, Uw);
        const float* u_p = u.data_ptr<float>();
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const float* prev = previous_row(h0_p, h_p, b, t, T, H);
                float* out = h_p + (b * T + t) * H;
                gru_forward_row(x_p + (b * T + t) * 3 * H, u_p + b * 3 * H, prev, g_p + (b * T + t) * 3 * H,
                                in_p + (b * T + t) * H, out, H);
                if (!kept(keep_p, b * T + t)) {
                    for (int64_t j = 0; j < H; ++j) out[j] = prev[j];
                }
            }
        });
        h = hs.select(1, t);
    }
    return {gates, inner, hs};
}

// -> (d_xp (B, T, 3H), dU (H, 3H), d_b_rec (3H), dh0)
std::vector<torch::Tensor> gru_backward(torch::Tensor d_hs, torch::Tensor U, torch::Tensor h0, torch::Tensor gates,
                                        torch::Tensor inner, torch::Tensor hs, torch::Tensor keep) {
    const int64_t B = hs.size(0), T = hs.size(1), H = hs.size(2);
    d_hs = d_hs.contiguous();
    // d_xp holds du during the loop and for the dU GEMM; its h part becomes da_h afterwards, so that
    // the two (B, T, 3H) gradients share one buffer.
    auto d_xp = reusable_empty(gates.sizes(), gates.options());
    auto da_h = reusable_empty(hs.sizes(), hs.options());
    const StepWeight Ut = step_weight(U.t(), B * T);
    auto g_next = torch::zeros({B, H}, hs.options());
    auto g_in = torch::empty({B, H}, hs.options());
    auto carry = torch::empty({B, H}, hs.options());
    const bool* keep_p = keep_data(keep);
    const float* g_p = gates.data_ptr<float>();
    const float* in_p = inner.data_ptr<float>();
    const float* h_p = hs.data_ptr<float>();
    const float* h0_p = h0.data_ptr<float>();
    const float* dh_p = d_hs.data_ptr<float>();
    float* du_p = d_xp.data_ptr<float>();
    float* dah_p = da_h.data_ptr<float>();
    for (int64_t t = T - 1; t >= 0; --t) {
        std::swap(g_in, g_next);
        const float* gi_p = g_in.data_ptr<float>();
        float* c_p = carry.data_ptr<float>();
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const int64_t row = b * T + t;
                const float* prev = previous_row(h0_p, h_p, b, t, T, H);
                if (!kept(keep_p, row)) {
                    masked_backward_row(dh_p + row * H, gi_p + b * H, du_p + row * 3 * H, 3 * H, c_p + b * H, H);
                    for (int64_t j = 0; j < H; ++j) dah_p[row * H + j] = 0.f;
                } else {
                    gru_backward_row(g_p + row * 3 * H, in_p + row * H, prev, dh_p + row * H, gi_p + b * H,
                                     du_p + row * 3 * H, dah_p + row * H, c_p + b * H, H);
                }
            }
        });
        product_out(g_next, carry, d_xp.select(1, t), Ut);
    }
    auto dU = recurrent_weight_gradient(h0, hs, d_xp, U);
    auto d_b_rec = d_xp.sum({0, 1});
    d_xp.narrow(2, 2 * H, H).copy_(da_h);
    return {d_xp, dU, d_b_rec, g_next};
}

// ------------------------------------------------------- GRU and SimpleRNN over nested masks
// As lstm_forward_nested: each step runs on its counts[t] active rows (in the order `order`),
// activations stored packed for the active rows only.

// xp (B, T, 3H), U (H, 3H), b_rec (3H) or empty, h0 (B, H), order (B), counts (T) ->
// hs (B, T, H), and packed (S rows): gates (S, 3H), u_h (S, H), h_prev (S, H).
std::vector<torch::Tensor> gru_forward_nested(torch::Tensor xp, torch::Tensor U, torch::Tensor b_rec,
                                              torch::Tensor h0, torch::Tensor order, torch::Tensor counts) {
    const int64_t B = xp.size(0), T = xp.size(1), H = U.size(0);
    const int64_t* order_p = order.data_ptr<int64_t>();
    const int64_t* n_p = counts.data_ptr<int64_t>();
    const int64_t S = counts.sum().item<int64_t>();
    auto hs = torch::empty({B, T, H}, xp.options());
    auto gates = torch::empty({S, 3 * H}, xp.options());
    auto u_h = torch::empty({S, H}, xp.options());
    auto h_prev = torch::empty({S, H}, xp.options());
    auto u = torch::empty({B, 3 * H}, xp.options());
    auto h = h0.index_select(0, order).contiguous();
    const bool has_bias = b_rec.numel() > 0;
    const float* x_p = xp.data_ptr<float>();
    float* hs_p = hs.data_ptr<float>();
    float* g_p = gates.data_ptr<float>();
    float* uh_p = u_h.data_ptr<float>();
    float* hp_p = h_prev.data_ptr<float>();
    float* h_p = h.data_ptr<float>();
    const float* u_p = u.data_ptr<float>();
    const StepWeight Uw = step_weight(U, B * T);
    int64_t offset = 0;
    for (int64_t t = 0; t < T; ++t) {
        const int64_t n = n_p[t];
        if (n > 0) {
            auto u_active = u.narrow(0, 0, n);
            product_out(u_active, has_bias ? b_rec : torch::Tensor(), h.narrow(0, 0, n), Uw);
        }
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                float* out = hs_p + (order_p[b] * T + t) * H;
                float* hb = h_p + b * H;
                if (b < n) {
                    const int64_t row = offset + b;
                    for (int64_t j = 0; j < H; ++j) hp_p[row * H + j] = hb[j];
                    gru_forward_row(x_p + (order_p[b] * T + t) * 3 * H, u_p + b * 3 * H, hp_p + row * H,
                                    g_p + row * 3 * H, uh_p + row * H, out, H);
                }
                for (int64_t j = 0; j < H; ++j) {  // a masked step carries the state through
                    if (b < n) hb[j] = out[j]; else out[j] = hb[j];
                }
            }
        });
        offset += n;
    }
    return {hs, gates, u_h, h_prev};
}

// Gradients of gru_forward_nested: (d_xp (B, T, 3H), dU, d_b_rec (3H), dh0).
std::vector<torch::Tensor> gru_backward_nested(torch::Tensor d_hs, torch::Tensor U, torch::Tensor order,
                                               torch::Tensor counts, torch::Tensor gates, torch::Tensor u_h,
                                               torch::Tensor h_prev) {
    const int64_t B = d_hs.size(0), T = d_hs.size(1), H = U.size(0);
    const int64_t S = gates.size(0);
    d_hs = d_hs.contiguous();
    const int64_t* order_p = order.data_ptr<int64_t>();
    const int64_t* n_p = counts.data_ptr<int64_t>();
    auto d_xp = torch::empty({B, T, 3 * H}, gates.options());  // every row written below
    auto d_u = torch::empty({S, 3 * H}, gates.options());
    auto da_h_rows = torch::empty({B, H}, gates.options());
    auto g = torch::zeros({B, H}, gates.options());  // dL/dh_t in sorted order
    auto carry = torch::empty({B, H}, gates.options());
    const StepWeight Ut = step_weight(U.t(), B * T);
    const float* g_p = gates.data_ptr<float>();
    const float* uh_p = u_h.data_ptr<float>();
    const float* hp_p = h_prev.data_ptr<float>();
    const float* dh_p = d_hs.data_ptr<float>();
    float* dx_p = d_xp.data_ptr<float>();
    float* du_p = d_u.data_ptr<float>();
    float* dah_p = da_h_rows.data_ptr<float>();
    float* gr_p = g.data_ptr<float>();
    float* c_p = carry.data_ptr<float>();
    int64_t offset = S;
    for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t n = n_p[t];
        offset -= n;
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const float* d_out = dh_p + (order_p[b] * T + t) * H;
                float* dxb = dx_p + (order_p[b] * T + t) * 3 * H;
                float* gb = gr_p + b * H;
                if (b >= n) {  // masked: the whole gradient flows to h_{t-1}
                    for (int64_t j = 0; j < H; ++j) gb[j] += d_out[j];
                    for (int64_t j = 0; j < 3 * H; ++j) dxb[j] = 0.f;
                    continue;
                }
                const int64_t row = offset + b;
                float* dub = du_p + row * 3 * H;
                gru_backward_row(g_p + row * 3 * H, uh_p + row * H, hp_p + row * H, d_out, gb, dub, dah_p + b * H,
                                 c_p + b * H, H);
                for (int64_t j = 0; j < 2 * H; ++j) dxb[j] = dub[j];
                for (int64_t j = 0; j < H; ++j) dxb[2 * H + j] = dah_p[b * H + j];
            }
        });
        if (n > 0) {
            auto g_active = g.narrow(0, 0, n);
            product_out(g_active, carry.narrow(0, 0, n), d_u.narrow(0, offset, n), Ut);
        }
    }
    auto dh0 = torch::empty({B, H}, gates.options());
    dh0.index_copy_(0, order, g);
    return {d_xp, weight_product(h_prev, d_u, U), d_u.sum(0), dh0};
}

// xp (B, T, H), U (H, H), h0 (B, H), order, counts, activation code ->
// hs (B, T, H), and packed: states (S, H) (the activations of the active rows), h_prev (S, H).
std::vector<torch::Tensor> simple_rnn_forward_nested(torch::Tensor xp, torch::Tensor U, torch::Tensor h0,
                                                     torch::Tensor order, torch::Tensor counts, int64_t kind) {
    const int64_t B = xp.size(0), T = xp.size(1), H = U.size(0);
    const int64_t* order_p = order.data_ptr<int64_t>();
    const int64_t* n_p = counts.data_ptr<int64_t>();
    const int64_t S = counts.sum().item<int64_t>();
    auto hs = torch::empty({B, T, H}, xp.options());
    auto states = torch::empty({S, H}, xp.options());
    auto h_prev = torch::empty({S, H}, xp.options());
    auto h = h0.index_select(0, order).contiguous();
    const float* x_p = xp.data_ptr<float>();
    float* hs_p = hs.data_ptr<float>();
    float* y_p = states.data_ptr<float>();
    float* hp_p = h_prev.data_ptr<float>();
    float* h_p = h.data_ptr<float>();
    const StepWeight Uw = step_weight(U, B * T);
    int64_t offset = 0;
    for (int64_t t = 0; t < T; ++t) {
        const int64_t n = n_p[t];
        if (n > 0) {
            gather_rows(x_p, order_p, n, t, T, H, y_p + offset * H);
            // as simple_rnn_forward: the same rounding on the same rows
            step_product(Uw, {y_p + offset * H, H, y_p + offset * H, H}, h_p, H, n);
        }
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                float* out = hs_p + (order_p[b] * T + t) * H;
                float* hb = h_p + b * H;
                if (b >= n) {  // a masked step carries the state through
                    for (int64_t j = 0; j < H; ++j) out[j] = hb[j];
                    continue;
                }
                const int64_t row = offset + b;
                float* y = y_p + row * H;
                for (int64_t j = 0; j < H; ++j) hp_p[row * H + j] = hb[j];
                activate_row(y, H, static_cast<int>(kind));
                for (int64_t j = 0; j < H; ++j) {
                    out[j] = y[j];
                    hb[j] = y[j];
                }
            }
        });
        offset += n;
    }
    return {hs, states, h_prev};
}

// Gradients of simple_rnn_forward_nested: (d_xp (B, T, H), dU, dh0).
std::vector<torch::Tensor> simple_rnn_backward_nested(torch::Tensor d_hs, torch::Tensor U, torch::Tensor order,
                                                      torch::Tensor counts, torch::Tensor states,
                                                      torch::Tensor h_prev, int64_t kind) {
    const int64_t B = d_hs.size(0), T = d_hs.size(1), H = U.size(0);
    const int64_t S = states.size(0);
    d_hs = d_hs.contiguous();
    const int64_t* order_p = order.data_ptr<int64_t>();
    const int64_t* n_p = counts.data_ptr<int64_t>();
    auto d_xp = torch::empty({B, T, H}, states.options());  // every row written below
    auto da = torch::empty({S, H}, states.options());
    auto g = torch::zeros({B, H}, states.options());
    auto carry = torch::empty({B, H}, states.options());  // the row function's bypass output: 0 when kept
    const StepWeight Ut = step_weight(U.t(), B * T);
    const float* y_p = states.data_ptr<float>();
    const float* dh_p = d_hs.data_ptr<float>();
    float* dx_p = d_xp.data_ptr<float>();
    float* da_p = da.data_ptr<float>();
    float* gr_p = g.data_ptr<float>();
    float* c_p = carry.data_ptr<float>();
    int64_t offset = S;
    for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t n = n_p[t];
        offset -= n;
        at::parallel_for(0, B, rows_per_task(H), [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b) {
                const float* d_out = dh_p + (order_p[b] * T + t) * H;
                float* dxb = dx_p + (order_p[b] * T + t) * H;
                float* gb = gr_p + b * H;
                if (b >= n) {
                    for (int64_t j = 0; j < H; ++j) {
                        gb[j] += d_out[j];
                        dxb[j] = 0.f;
                    }
                    continue;
                }
                const int64_t row = offset + b;
                simple_rnn_backward_row(y_p + row * H, d_out, gb, da_p + row * H, c_p + b * H, H, static_cast<int>(kind));
                for (int64_t j = 0; j < H; ++j) dxb[j] = da_p[row * H + j];
            }
        });
        if (n > 0) {  // as simple_rnn_backward, whose addend is 0 on kept rows
            step_product(Ut, {gr_p, H, nullptr, 0}, da_p + offset * H, H, n);
        }
    }
    auto dh0 = torch::empty({B, H}, states.options());
    dh0.index_copy_(0, order, g);
    return {d_xp, weight_product(h_prev, da, U), dh0};
}

// ----------------------------------------------------------------------------- greedy decoding
// Embedding -> one recurrent layer -> Dense (linear), one token at a time, the whole loop here
// with no Python between steps. `table` (V, G*H) is the Embedding folded into the input
// projection (embeddings W + b), so a token's projected input is one row of it. Each step is
// the recurrent product, the cell's row arithmetic, the output layer's product and an argmax (the
// first maximum, as torch.argmax); both products read their weights packed (pack_panels: float32, or
// bfloat16 under a mixed policy), the states, gates and logits are float32.
// cell: 0 SimpleRNN (activation code `activation`), 1 LSTM, 2 GRU (reset_after).
// Returns the `steps` tokens that follow `first` (B), and leaves the final states in h (and c).
torch::Tensor greedy_decode(int64_t cell, int64_t activation, torch::Tensor table, torch::Tensor U,
                            torch::Tensor b_rec, torch::Tensor h, torch::Tensor c, torch::Tensor kernel,
                            torch::Tensor bias, int64_t V, torch::Tensor first, int64_t steps) {
    const int64_t B = h.size(0), H = h.size(1), GH = table.size(1);
    auto tokens = torch::empty({B, steps}, first.options());
    auto u = torch::empty({B, GH}, h.options());
    auto gates = torch::empty({B, GH}, h.options());
    auto u_h = torch::empty({B, H}, h.options());
    auto h_next = torch::empty_like(h);
    auto c_next = torch::empty_like(h);
    auto logits = torch::empty({B, V}, h.options());
    std::vector<int64_t> current(first.data_ptr<int64_t>(), first.data_ptr<int64_t>() + B);
    int64_t* out_p = tokens.data_ptr<int64_t>();
    const float* table_p = table.data_ptr<float>();
    for (int64_t s = 0; s < steps; ++s) {
        panel_addmm(u, b_rec, h, U);
        float* u_p = u.data_ptr<float>();
        float* h_p = h.data_ptr<float>();
        float* hn_p = h_next.data_ptr<float>();
        for (int64_t b = 0; b < B; ++b) {
            const float* x = table_p + current[b] * GH;
            float* ub = u_p + b * GH;
            if (cell == 2) {
                gru_forward_row(x, ub, h_p + b * H, gates.data_ptr<float>() + b * GH, u_h.data_ptr<float>() + b * H,
                                hn_p + b * H, H);
                continue;
            }
            for (int64_t j = 0; j < GH; ++j) ub[j] += x[j];
            if (cell == 1) {
                forward_row(ub, c.data_ptr<float>() + b * H, h_p + b * H, c_next.data_ptr<float>() + b * H,
                            hn_p + b * H, H, true);
            } else {
                activate_row(ub, H, static_cast<int>(activation));
                for (int64_t j = 0; j < H; ++j) hn_p[b * H + j] = ub[j];
            }
        }
        h.copy_(h_next);
        if (cell == 1) c.copy_(c_next);
        panel_addmm(logits, bias, h, kernel);
        const float* l_p = logits.data_ptr<float>();
        for (int64_t b = 0; b < B; ++b) {
            int64_t best = 0;
            for (int64_t v = 1; v < V; ++v) {
                if (l_p[b * V + v] > l_p[b * V + best]) best = v;
            }
            current[b] = best;
            out_p[b * steps + s] = best;
        }
    }
    return tokens;
}

// ------------------------------------------------------- whole training step (train/fast_step.py)
namespace {

// One input feature (a univariate series, as the forecasters train on): the input projection is an
// outer product, which torch runs as a broadcast (addcmul) and its weight and bias gradients as a
// matrix-vector product and a column sum, two passes over the (rows, G) gradient. Here each is one
// pass (LSTM(32), batch 32 x 50: ~28 -> ~15 us of a whole step of ~330).

// (n, G) rows b + x[r] w, for x (n) and w, b (G) float32, contiguous.
torch::Tensor outer_plus(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
    const int64_t n = x.numel(), G = w.numel();
    auto out = torch::empty({n, G}, x.options());
    const float* x_p = x.data_ptr<float>();
    const float* w_p = w.data_ptr<float>();
    const float* b_p = b.data_ptr<float>();
    float* o_p = out.data_ptr<float>();
    at::parallel_for(0, n, std::max<int64_t>(1, kTaskWork / G), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            for (int64_t j = 0; j < G; ++j) o_p[r * G + j] = b_p[j] + x_p[r] * w_p[j];
        }
    });
    return out;
}

// Columns j.. (V vectors) of outer_gradients: their 2 V sums stay in registers while the rows pass,
// so that the sums' latency chains run side by side; each is taken over blocks of 64 rows and then
// the blocks' sums one after another: rounding grows with 64 + n / 64 terms rather than n (at a
// million rows ~3e-6 relative, measured, against torch's sum's ~1e-7; a step's rows are thousands).
template <int V>
void outer_gradient_columns(const float* x, const float* d, int64_t n, int64_t G, int64_t j, float* dw, float* db) {
    fvec sw[V] = {}, sb[V] = {};
    for (int64_t r0 = 0; r0 < n; r0 += 64) {
        fvec bw[V] = {}, bb[V] = {};
        for (int64_t r = r0; r < std::min(n, r0 + 64); ++r) {
            const fvec* row = reinterpret_cast<const fvec*>(d + r * G + j);
            for (int v = 0; v < V; ++v) {
                bw[v] += x[r] * row[v];
                bb[v] += row[v];
            }
        }
        for (int v = 0; v < V; ++v) {
            sw[v] += bw[v];
            sb[v] += bb[v];
        }
    }
    for (int v = 0; v < V; ++v) {
        *reinterpret_cast<fvec*>(dw + j + LANES * v) = sw[v];
        *reinterpret_cast<fvec*>(db + j + LANES * v) = sb[v];
    }
}

// (x^T d (1, G), the sum of d's rows (G)) for x (n) and d (n, G) float32, contiguous: up to four
// vectors of columns at a time, then the last G % LANES columns, all in 64-row blocks.
std::pair<torch::Tensor, torch::Tensor> outer_gradients(const torch::Tensor& x, const torch::Tensor& d) {
    const int64_t n = x.numel(), G = d.size(1);
    auto dw = torch::zeros({1, G}, d.options());
    auto db = torch::zeros({G}, d.options());
    const float* x_p = x.data_ptr<float>();
    const float* d_p = d.data_ptr<float>();
    float* dw_p = dw.data_ptr<float>();
    float* db_p = db.data_ptr<float>();
    // Column groups split among threads (a large model's step).
    const int64_t groups = (G / LANES + 3) / 4;
    at::parallel_for(0, groups, std::max<int64_t>(1, kTaskWork / (n * PANEL)), [&](int64_t g0, int64_t g1) {
        for (int64_t g = g0; g < g1; ++g) {
            const int64_t j = g * PANEL;
            switch (std::min<int64_t>(4, (G - j) / LANES)) {
                case 4: outer_gradient_columns<4>(x_p, d_p, n, G, j, dw_p, db_p); break;
                case 3: outer_gradient_columns<3>(x_p, d_p, n, G, j, dw_p, db_p); break;
                case 2: outer_gradient_columns<2>(x_p, d_p, n, G, j, dw_p, db_p); break;
                default: outer_gradient_columns<1>(x_p, d_p, n, G, j, dw_p, db_p); break;
            }
        }
    });
    const int64_t j = G - G % LANES;
    for (int64_t r0 = 0; r0 < n && j < G; r0 += 64) {  // the same 64-row blocks, rows outer
        float bw[LANES] = {}, bb[LANES] = {};
        for (int64_t r = r0; r < std::min(n, r0 + 64); ++r) {
            for (int64_t k = j; k < G; ++k) {
                bw[k - j] += x_p[r] * d_p[r * G + k];
                bb[k - j] += d_p[r * G + k];
            }
        }
        for (int64_t k = j; k < G; ++k) {
            dw_p[k] += bw[k - j];
            db_p[k] += bb[k - j];
        }
    }
    return {dw, db};
}

}  // namespace

// Forward, MSE loss and gradients of Sequential([recurrent layer, Dense]) in one call, so that a
// small model's step does not pay Python's dispatch on each of its ~25 tensor operations. The
// operations are those of the layer-by-layer path (the same kernels, GEMMs and reductions; on one
// input feature the outer-product passes above), so the gradients agree with it to float32
// rounding. Equations: see fast_step.py.
// cell: 0 SimpleRNN (activation: its code), 1 LSTM, 2 GRU (reset_after). x (B, T, F) float32,
// W (F, G), U (H, G), bias (G) or GRU's (2, G), Wd (H, D), bd (D) or empty (no Dense bias), y the
// targets (B, D), or (B, T, D) when `sequences` (the layer returns every step), weight the loss weight.
// -> {loss (0-d), outputs (shape of y), dW, dU, dbias, dWd, dbd (empty without a Dense bias)}.
std::vector<torch::Tensor> dense_mse_step(int64_t cell, int64_t activation, torch::Tensor x, torch::Tensor W,
                                          torch::Tensor U, torch::Tensor bias, torch::Tensor Wd, torch::Tensor bd,
                                          torch::Tensor y, double weight, bool sequences) {
    const int64_t B = x.size(0), T = x.size(1), F = x.size(2), H = U.size(0), G = U.size(1);
    const bool gru = cell == 2;
    auto x_flat = x.reshape({B * T, F}).contiguous();  // the one-feature passes read it by pointer
    auto b_in = gru ? bias.select(0, 0) : bias;
    auto xp = (F == 1 ? outer_plus(x_flat, W.contiguous(), b_in.contiguous()) : at::addmm(b_in, x_flat, W))
                  .view({B, T, G});
    auto h0 = torch::zeros({B, H}, x.options());
    auto keep = torch::empty({0}, x.options().dtype(torch::kBool));
    std::vector<torch::Tensor> saved;  // the forward's tensors the backward reads
    torch::Tensor hs;
    if (cell == 0) {
        hs = simple_rnn_forward(xp, U, h0, keep, activation);
    } else if (cell == 1) {
        saved = lstm_forward(xp, U, h0, h0, keep);  // c0 = h0 = 0
        hs = saved[1];
    } else {
        saved = gru_forward(xp, U, bias.select(0, 1).contiguous(), h0, keep);
        hs = saved[2];
    }
    auto h_flat = (sequences ? hs : hs.select(1, T - 1)).reshape({-1, H});  // (N, H)
    const bool dense_bias = bd.numel() > 0;
    auto out_flat = dense_bias ? at::addmm(bd, h_flat, Wd) : h_flat.mm(Wd);  // (N, D)
    auto outputs = out_flat.view(y.sizes());

    // MSE: the mean over D of each sample's squared errors, averaged over the N samples.
    auto error = out_flat - y.reshape(out_flat.sizes());
    const double count = static_cast<double>(error.numel());
    auto flat_error = error.view({-1});
    auto loss = at::dot(flat_error, flat_error).mul_(weight / count);
    auto d_out = error.mul_(2.0 * weight / count);  // (N, D); error is not needed after this

    auto dWd = h_flat.t().mm(d_out);
    auto dbd = dense_bias ? d_out.sum(0) : torch::Tensor();
    auto dh = d_out.mm(Wd.t());  // (N, H)
    torch::Tensor d_hs;
    if (sequences) {
        d_hs = dh.view({B, T, H});
    } else {
        d_hs = torch::zeros({B, T, H}, x.options());
        d_hs.select(1, T - 1).copy_(dh);
    }
    torch::Tensor d_xp, dU, d_b_rec;
    if (cell == 0) {
        auto grads = simple_rnn_backward(d_hs, U, h0, hs, keep, activation);
        d_xp = grads[0], dU = grads[1];
    } else if (cell == 1) {
        auto grads = lstm_backward(d_hs, h0, U, h0, h0, saved[0], hs, saved[2], keep);
        d_xp = grads[0], dU = grads[1];
    } else {
        auto grads = gru_backward(d_hs, U, h0, saved[0], saved[1], hs, keep);
        d_xp = grads[0], dU = grads[1], d_b_rec = grads[2];
    }
    auto d_xp_flat = d_xp.view({B * T, G});
    torch::Tensor dW, d_b_in;
    if (F == 1) {
        std::tie(dW, d_b_in) = outer_gradients(x_flat, d_xp_flat);
    } else {
        dW = x_flat.t().mm(d_xp_flat);
        d_b_in = d_xp_flat.sum(0);
    }
    auto dbias = gru ? torch::stack({d_b_in, d_b_rec}) : d_b_in;
    return {loss, outputs, dW, dU, dbias, dWd, dbd};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("lstm_forward", &lstm_forward, "LSTM forward through time (float32, CPU)");
    m.def("lstm_backward", &lstm_backward, "LSTM backward through time (float32, CPU)");
    m.def("lstm_forward_nested", &lstm_forward_nested, "LSTM forward over nested masks (float32, CPU)");
    m.def("lstm_backward_nested", &lstm_backward_nested, "LSTM backward over nested masks (float32, CPU)");
    m.def("simple_rnn_forward", &simple_rnn_forward, "SimpleRNN forward through time (float32, CPU)");
    m.def("simple_rnn_backward", &simple_rnn_backward, "SimpleRNN backward through time (float32, CPU)");
    m.def("gru_forward", &gru_forward, "GRU (reset_after) forward through time (float32, CPU)");
    m.def("gru_forward_nested", &gru_forward_nested, "GRU forward over nested masks (float32, CPU)");
    m.def("gru_backward_nested", &gru_backward_nested, "GRU backward over nested masks (float32, CPU)");
    m.def("simple_rnn_forward_nested", &simple_rnn_forward_nested, "SimpleRNN forward over nested masks");
    m.def("simple_rnn_backward_nested", &simple_rnn_backward_nested, "SimpleRNN backward over nested masks");
    m.def("greedy_decode", &greedy_decode, "Greedy decoding, Embedding -> recurrent layer -> Dense (float32 states; packed float32 or bfloat16 weights; CPU)");
    m.def("pack_panels", &pack_panels, "A (K, N) float32 weight packed in column panels, float32 or bfloat16 (panel_addmm's operand)");
    m.def("panel_addmm", &panel_addmm, "out = addend + a @ W for W packed by pack_panels (CPU)");
    m.attr("panel_bfloat16") = kPanelBfloat16;
    m.attr("weight_gradient_rows") = kWeightGradientRows;
    m.def("gru_backward", &gru_backward, "GRU (reset_after) backward through time (float32, CPU)");
    m.def("dense_mse_step", &dense_mse_step, "Forward, MSE loss and gradients of a recurrent layer + Dense (float32, CPU)");
}
