// Where a tensor lives. The device is a property of tensors, not a branch in model code: ops dispatch on it.
#pragma once
#include <cstdint>
#include <string>

namespace spk {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  // "cpu", "cuda", "cuda:1"; throws spk::Error naming the text otherwise.
  static Device parse(const std::string& s);
};

}  // namespace spk
