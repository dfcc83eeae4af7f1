// The polynomial-attention kernel's two passes as native loops, one OpenMP region per pass
// with a contiguous part of the blocks per thread (core/kernels/native.py; docs/kernel.md,
// "Backends").
//
// Same algorithm, layout and products as the torch backend (core/kernels/fast_attention.py):
// tokens are columns; a block holds the monomials of levels 0 … g−1 of `cols` columns
// (rows in the level order of core.kernels.features.MonomialFeatures); the top level is
// folded into the small side through the top groups. What differs is the work between the
// matrix products: the monomials, values ⊙ x_i, the top groups' ⊙ q_i and the division
// are plain loops over a block small enough to stay in the core's L2 cache, so the GEMMs
// (at::addmm_/at::mm, MKL on CPU) read what the loops just wrote without a trip to memory,
// and no op is dispatched per level; inside the region each GEMM runs single-threaded, so
// no OpenMP thread is woken per product. kProductsOnly skips every loop and runs the same
// matrix products on the same buffers: the time of the kernel's own GEMM passes.

#include <ATen/Parallel.h>
#include <torch/extension.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace {

// What a call runs: everything, the matrix products alone, or everything else alone.
constexpr int64_t kFull = 0, kProductsOnly = 1, kLoopsOnly = 2;

#define PTL_SIMD __attribute__((target_clones("avx512f", "avx2", "default")))

struct Tables {
  int64_t s;
  int64_t g;
  // prefix[(j-1)*s + i]: level-(j−1) monomials with largest variable <= i (levels j >= 1)
  std::vector<int64_t> prefix;
};

// Rows of level j (j >= 1): Σ_i prefix[j−1][i].
int64_t level_rows(const Tables& t, int64_t j) {
  int64_t rows = 0;
  for (int64_t i = 0; i < t.s; ++i) rows += t.prefix[(j - 1) * t.s + i];
  return rows;
}

template <typename T>
PTL_SIMD void mul_rows(T* __restrict dst, const T* __restrict a, const T* __restrict b,
                       int64_t width) {
  for (int64_t c = 0; c < width; ++c) dst[c] = a[c] * b[c];
}

template <typename T>
PTL_SIMD void add_mul_rows(T* __restrict dst, const T* __restrict a, const T* __restrict b,
                           int64_t width) {
  for (int64_t c = 0; c < width; ++c) dst[c] += a[c] * b[c];
}

template <typename T>
PTL_SIMD void div_rows(T* __restrict dst, const T* __restrict a, const T* __restrict b,
                       int64_t width) {
  for (int64_t c = 0; c < width; ++c) dst[c] = a[c] / b[c];
}

// Monomials of levels 0 … g−1 of columns X[:, col : col+width] into `block` (row stride ld).
template <typename T>
void fill_block(const Tables& t, const std::vector<int64_t>& starts, const T* X, int64_t ldx,
                int64_t col, int64_t width, T* block, int64_t ld) {
  const int64_t s = t.s;
  if (t.g < 2) return;                        // level 0 only: the constant row, set once
  for (int64_t i = 0; i < s; ++i) {           // level 1 = x
    std::copy(X + i * ldx + col, X + i * ldx + col + width, block + (1 + i) * ld);
  }
  for (int64_t j = 2; j < t.g; ++j) {         // level j: parents times x_i
    int64_t row = starts[j];
    const int64_t prev = starts[j - 1];
    for (int64_t i = 0; i < s; ++i) {
      const int64_t count = t.prefix[(j - 1) * s + i];
      const T* xi = block + (1 + i) * ld;
      for (int64_t r = 0; r < count; ++r) {
        mul_rows(block + (row + r) * ld, block + (prev + r) * ld, xi, width);
      }
      row += count;
    }
  }
}

struct Layout {
  Tables tables;
  std::vector<int64_t> starts;   // level starts 0 … g
  int64_t low_rows;              // rows of levels 0 … g−1
  int64_t last_start;            // first row of level g−1
  std::vector<int64_t> top_row;  // per variable i: first row of its top group in S
  std::vector<int64_t> top_count;
};

Layout make_layout(int64_t s, int64_t g, const std::vector<int64_t>& prefix) {
  Layout L;
  L.tables = Tables{s, g, prefix};
  L.starts.assign(g + 1, 0);
  if (g >= 1) L.starts[1] = 1;
  for (int64_t j = 2; j <= g; ++j) L.starts[j] = L.starts[j - 1] + level_rows(L.tables, j - 1);
  L.low_rows = g == 0 ? 1 : L.starts[g];
  L.last_start = g == 0 ? 0 : L.starts[g - 1];
  int64_t row = L.low_rows;
  for (int64_t i = 0; g >= 1 && i < s; ++i) {
    L.top_row.push_back(row);
    L.top_count.push_back(prefix[(g - 1) * s + i]);
    row += prefix[(g - 1) * s + i];
  }
  return L;
}

// One thread's feature block of levels 0 … g−1: row 0 (level 0) is the constant 1; with
// the loops skipped every row is 1, so the products run on finite data.
at::Tensor feature_block(const Layout& L, int64_t cols, const at::TensorOptions& opts,
                         int64_t mode) {
  at::Tensor block = at::empty({L.low_rows, cols}, opts);
  if (mode == kProductsOnly) block.fill_(1);
  else block[0].fill_(1);
  return block;
}

template <typename T>
void key_part(const Layout& L, const at::Tensor& K, const at::Tensor& values, at::Tensor& S,
              int64_t cols, int64_t first_block, int64_t last_block, int64_t mode) {
  const int64_t n = K.size(1), rows_v = values.size(0);
  const int64_t ldk = K.stride(0), ldv = values.stride(0);
  auto opts = K.options();
  at::Tensor block = feature_block(L, cols, opts, mode);
  at::Tensor scaled = at::zeros({rows_v, cols}, opts);
  const T* Xp = K.data_ptr<T>();
  const T* Vp = values.data_ptr<T>();
  T* Bp = block.data_ptr<T>();
  T* Wp = scaled.data_ptr<T>();
  at::Tensor S_low = S.narrow(1, 0, L.low_rows);
  for (int64_t b = first_block; b < last_block; ++b) {
    const int64_t col = b * cols, width = std::min(cols, n - col);
    if (mode != kProductsOnly) fill_block<T>(L.tables, L.starts, Xp, ldk, col, width, Bp, cols);
    at::Tensor low = block.narrow(1, 0, width);
    if (mode != kLoopsOnly) S_low.addmm_(values.narrow(1, col, width), low.t());
    for (size_t i = 0; i < L.top_row.size(); ++i) {
      if (mode != kProductsOnly) {
        const T* xi = Xp + static_cast<int64_t>(i) * ldk + col;
        for (int64_t a = 0; a < rows_v; ++a)
          mul_rows(Wp + a * cols, Vp + a * ldv + col, xi, width);
      }
      if (mode != kLoopsOnly)
        S.narrow(1, L.top_row[i], L.top_count[i])
            .addmm_(scaled.narrow(1, 0, width),
                    low.narrow(0, L.last_start, L.top_count[i]).t());
    }
  }
}

template <typename T>
void query_part(const Layout& L, const at::Tensor& Q, const at::Tensor& S_low,
                const std::vector<at::Tensor>& S_top, at::Tensor& out, at::Tensor& den_range,
                int64_t cols, int64_t first_block, int64_t last_block, int64_t mode) {
  const int64_t m = Q.size(1), rows_v = S_low.size(0), d_v = rows_v - 1;
  const int64_t ldq = Q.stride(0), ldo = out.stride(0);
  auto opts = Q.options();
  at::Tensor block = feature_block(L, cols, opts, mode);
  at::Tensor num_den = at::empty({rows_v, cols}, opts);
  at::Tensor product = at::empty({rows_v, cols}, opts);
  const T* Xp = Q.data_ptr<T>();
  T* Bp = block.data_ptr<T>();
  T* Np = num_den.data_ptr<T>();
  T* Pp = product.data_ptr<T>();
  T* Op = out.data_ptr<T>();
  double* Dr = den_range.data_ptr<double>();
  for (int64_t b = first_block; b < last_block; ++b) {
    const int64_t col = b * cols, width = std::min(cols, m - col);
    if (mode != kProductsOnly) fill_block<T>(L.tables, L.starts, Xp, ldq, col, width, Bp, cols);
    at::Tensor low = block.narrow(1, 0, width);
    at::Tensor nd = num_den.narrow(1, 0, width);
    at::Tensor pr = product.narrow(1, 0, width);
    if (mode != kLoopsOnly) at::mm_out(nd, S_low, low);
    else nd.zero_();
    for (size_t i = 0; i < S_top.size(); ++i) {
      if (mode != kLoopsOnly)
        at::mm_out(pr, S_top[i], low.narrow(0, L.last_start, L.top_count[i]));
      if (mode != kProductsOnly) {
        const T* qi = Xp + static_cast<int64_t>(i) * ldq + col;
        for (int64_t a = 0; a < rows_v; ++a) add_mul_rows(Np + a * cols, Pp + a * cols, qi, width);
      }
    }
    if (mode == kProductsOnly) continue;
    const T* den = Np + d_v * cols;
    double low_den = std::numeric_limits<double>::infinity();
    double high_den = -std::numeric_limits<double>::infinity();
    for (int64_t c = 0; c < width; ++c) {
      const double v = static_cast<double>(den[c]);
      if (std::isnan(v)) {                    // a NaN normaliser: the whole range is NaN
        low_den = high_den = v;
        break;
      }
      low_den = std::min(low_den, v);
      high_den = std::max(high_den, v);
    }
    Dr[2 * b] = low_den;
    Dr[2 * b + 1] = high_den;
    for (int64_t a = 0; a < d_v; ++a) div_rows(Op + a * ldo + col, Np + a * cols, den, width);
  }
}

// Block range of part p of `parts` over `blocks` (the first blocks % parts parts one longer).
std::pair<int64_t, int64_t> part_range(int64_t blocks, int64_t parts, int64_t p) {
  const int64_t size = blocks / parts, extra = blocks % parts;
  const int64_t first = p * size + std::min(p, extra);
  return {first, first + size + (p < extra ? 1 : 0)};
}

// S_parts[p] += [V; 1ᵀ] · M(K)ᵀ over part p of the key blocks of `cols` columns: one
// OpenMP region, one part per thread; the products inside run single-threaded.
void key_pass(const at::Tensor& K, const at::Tensor& values, std::vector<at::Tensor> S_parts,
              std::vector<int64_t> prefix, int64_t g, int64_t cols, int64_t mode) {
  TORCH_CHECK(K.stride(1) == 1 && values.stride(1) == 1, "key_pass: unit column strides");
  const Layout L = make_layout(K.size(0), g, prefix);
  const int64_t parts = static_cast<int64_t>(S_parts.size());
  const int64_t blocks = (K.size(1) + cols - 1) / cols;
  for (const auto& S : S_parts) TORCH_CHECK(S.is_contiguous(), "key_pass: S contiguous");
  at::parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const auto range = part_range(blocks, parts, p);
      AT_DISPATCH_FLOATING_TYPES(K.scalar_type(), "key_pass", [&] {
        key_part<scalar_t>(L, K, values, S_parts[p], cols, range.first, range.second, mode);
      });
    }
  });
}

// out = num / den over the query blocks, one part per thread; den_range[b] = (min, max)
// of block b's normaliser (NaN when any is NaN).
void query_pass(const at::Tensor& Q, const at::Tensor& S_low,
                const std::vector<at::Tensor>& S_top, at::Tensor out, at::Tensor den_range,
                std::vector<int64_t> prefix, int64_t g, int64_t cols, int64_t parts,
                int64_t mode) {
  TORCH_CHECK(Q.stride(1) == 1 && out.stride(1) == 1 && den_range.is_contiguous(),
              "query_pass: Q and out need unit column stride, den_range contiguous");
  const Layout L = make_layout(Q.size(0), g, prefix);
  const int64_t blocks = (Q.size(1) + cols - 1) / cols;
  at::parallel_for(0, parts, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const auto range = part_range(blocks, parts, p);
      AT_DISPATCH_FLOATING_TYPES(Q.scalar_type(), "query_pass", [&] {
        query_part<scalar_t>(L, Q, S_low, S_top, out, den_range, cols, range.first,
                             range.second, mode);
      });
    }
  });
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, module) {
  module.def("key_pass", &key_pass, "S_parts[p] += [V; 1ᵀ] · M(K)ᵀ over part p of the blocks",
             pybind11::call_guard<pybind11::gil_scoped_release>());
  module.def("query_pass", &query_pass, "out = num / den over the query blocks",
             pybind11::call_guard<pybind11::gil_scoped_release>());
}
