"""Every zh-CN string the pages show, and the formats of UI.md ("Every page", "Definitions").

Why one module: the labels and accessible names are a contract that tests and users rely on
(UI.md); keeping them here means a rename happens once, and a translation is one file.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

SEVERITY = {"critical": "致命", "high": "严重", "medium": "一般", "low": "提示"}
STATUS = {"open": "待申诉", "appealed": "申诉中", "upheld": "已维持", "overturned": "已撤销",
          "confirmed": "已确认"}  # fmt: skip
ROLE = {"admin": "管理员", "manager": "主管", "reviewer": "质检员", "agent": "坐席", "sales": "销售",
        "integration": "集成"}  # fmt: skip
SPEAKER = {"agent": "坐席", "customer": "客户", "system": "系统", "bot": "机器人"}
TAG_SOURCE = {"rule": "规则", "keyword": "规则", "qa": "AI", "semantic": "AI", "model": "AI",
              "group": "规则", "segment": "规则", "manual": "手动", "person": "手动"}  # fmt: skip
ACTION = {"opened": "机器发现", "status.appealed": "申诉", "status.upheld": "维持",
          "status.overturned": "撤销", "status.confirmed": "确认", "severity.changed": "改严重度",
          "tag.removed": "移除标签", "tag.locked": "锁定标签", "tag.confirmed": "确认标签",
          "tag.override_cleared": "清除覆盖", "tag.added": "打上标签"}  # fmt: skip
QUEUE_STATUSES = {"appealed": "待审", "upheld": "已维持", "overturned": "已撤销", "all": "全部"}

RULE_STATUS = {"draft": "草稿", "live": "生效", "off": "停用"}
RULE_KIND = {"violation": "违规", "tag": "标签"}
RUN_STATUS = {"running": "进行中", "finished": "已完成", "cancelled": "已取消", "failed": "失败"}
RULE_ACTION = {"published": "发布", "enabled": "启用", "disabled": "停用", "scheduled": "定时生效",
               "version.activated": "版本生效", "rolled_back": "回滚"}  # fmt: skip

PRODUCT = "qc-service 质检"
LOGOUT = "退出"
DECIDED = {"upheld": "已维持", "overturned": "已撤销"}
REASON_REQUIRED = "撤销须选择理由"
APPEAL_REASON_REQUIRED = "请填写申诉理由"
OVERDUE = "已超时"
UNDER_AN_HOUR = "剩余 不足1小时"
DELETED_BY_RETENTION = "已按保留期删除"
RUN_STATUS = {
    "done": "完成",
    "held": "已拦截（变动过大）",
    "failed": "失败",
    "running": "运行中",
    "busy": "占用中",
}
SEGMENT_LEAF = {"said": "说过", "hit": "命中违规", "tag": "标签", "attr": "属性", "last": "最近消息",
                "silent": "未回复", "in_group": "在群", "event": "事件", "in_segment": "在分组"}  # fmt: skip

# Every other label, heading and line of the templates (``{{ ui.<key> }}``), keyed by its pinyin;
# a test checks that no template holds a Chinese string of its own and every key used exists.
UI: dict[str, str] = {
    "gui_ze_lie_biao": "规则",
    "sou_suo_gui_ze": "搜索规则",
    "xin_jian_gui_ze": "新建规则",
    "ming_cheng": "名称",
    "lei_xing": "类型",
    "ban_ben": "版本",
    "geng_xin_shi_jian": "更新时间",
    "qi_ri_ming_zhong": "7 日命中",
    "qi_yong": "启用",
    "kai": "开",
    "guan": "关",
    "mei_you_gui_ze": "没有规则",
    "xiao_yan_tong_guo": "校验通过",
    "shi_yun_xing_jie_guo": "试运行结果",
    "chu_ming_zhong": "处命中",
    "bu_bao_cun": "未保存任何数据",
    "hui_ce": "回测",
    "hui_ce_jin_du": "回测进度",
    "qu_xiao_hui_ce": "取消回测",
    "hui_ce_hui_hua": "回测会话数",
    "hui_ce_jie_guo": "回测结果",
    "xian_xing_ming_zhong": "现行版本命中",
    "xin_ming_zhong": "新增命中",
    "bu_zai_ming_zhong": "不再命中",
    "gu_ji_zhun_que_lv": "估计准确率",
    "yang_li": "样例",
    "fa_bu": "发布",
    "fa_bu_qian_que_ren": "发布前确认差异",
    "cha_yi": "与现行版本的差异",
    "wu_cha_yi": "（与现行版本相同）",
    "que_ren_fa_bu": "确认发布",
    "fa_bu_xu_hui_ce": "须先完成与当前草稿一致的回测，才能发布",
    "bian_ji_gui_ze": "编辑规则",
    "dang_qian_ban_ben": "当前版本",
    "gui_ze_yaml": "规则 YAML",
    "xiao_yan": "校验",
    "shi_yun_xing": "试运行",
    "shi_yun_xing_dui_hua": "试运行对话",
    "shi_yun_xing_ti_shi": "坐席: …\n客户: …",
    "hui_ce_yu_fa_bu": "回测与发布",
    "cao_gao_yi_geng_gai": "草稿已更改，请重新回测后再发布",
    "dang_qian": "当前",
    "hui_gun_dao": "回滚到",
    "bian_geng_ji_lu": "变更记录",
    "yi_fa_bu": "已发布",
    "zhi_jian_kan_ban": "质检看板",
    "shu_ju_geng_xin_yu": "数据更新于",
    "he_xin_zhi_biao": "核心指标",
    "zhi_jian_hui_hua_shu": "质检会话数",
    "wei_gui_shu": "违规数",
    "wei_gui_lv": "违规率",
    "shen_su_shu": "申诉数",
    "che_xiao_lv": "撤销率",
    "chao_shi_shen_su": "超时申诉",
    "mei_ri_wei_gui_qu_shi": "每日违规趋势（按规则）",
    "dao_chu_csv": "导出 CSV",
    "tu_biao_shu_ju_jian_xia_biao": "图表数据见下方表格",
    "he_ji": "合计",
    "ri_qi": "日期",
    "gui_ze_jian_kang_du": "规则健康度",
    "ke_neng_bu_he_li_shuo_ming": "可能不合理：撤销率 ≥",
    "shen_su_lie": "申诉",
    "che_xiao_li_you": "撤销理由",
    "ke_neng_bu_he_li": "可能不合理",
    "gai_shi_duan_mei_you_shu_ju": "该时段没有数据",
    "zuo_xi_biao_xian": "坐席",
    "zhi_jian_yuan_biao_xian": "质检员",
    "zhi_jian_yuan": "质检员",
    "jue_ding_shu": "处理数",
    "chu_li_shi_chang_zhong_wei": "处理时长中位数（小时）",
    "che_xiao_zhan_bi": "撤销占比",
    "wei_zhi": "未知",
    "wei_gui_ming_xi": "违规明细",
    "mei_you_fu_he_tiao_jian_3": "没有符合条件的违规",
    "kan_ban": "看板",
    "zhi_jian": "· 质检",
    "tiao_dao_zheng_wen": "跳到正文",
    "zhu_dao_hang": "主导航",
    "shen_su_dui_lie": "申诉队列",
    "wo_de_wei_gui": "我的违规",
    "ke_hu": "客户",
    "ren_qun_fen_zu": "人群分组",
    "cheng_yuan_shu": "成员数",
    "shang_ci_yun_xing": "上次运行",
    "jin_ru_li_kai": "进入/离开",
    "wei_yun_xing": "未运行",
    "mei_you_fen_zu": "没有分组",
    "yu_lan_cao_gao": "预览草稿",
    "fen_zu_cao_gao": "分组草稿（规则文档 YAML）",
    "yu_lan": "预览",
    "yu_lan_jie_guo": "预览结果（未保存）",
    "fen_zu": "分组",
    "jiang_jin_ru": "将进入",
    "jiang_li_kai": "将离开",
    "cao_gao_mei_you_fen_zu": "草稿中没有分组（segments:）",
    "ding_yi": "定义",
    "yun_xing_ji_lu": "运行记录",
    "ji_suan_shi_dian": "计算时点",
    "cheng_yuan": "成员",
    "jin_ru_yu": "进入于",
    "yuan_yin": "原因",
    "zan_wu_cheng_yuan": "暂无成员",
    "suo_zai_fen_zu": "所在分组",
    "wen_dang": "API 文档",
    "hui_hua": "会话",
    "qu_dao": "渠道",
    "zuo_xi": "· 坐席",
    "ke_hu_2": "· 客户",
    "wei_gui": "违规",
    "dui_hua_yuan_wen": "对话原文",
    "sou_suo_ke_hu": "搜索客户",
    "xing_ming": "姓名",
    "biao_qian": "标签",
    "sou_suo": "搜索",
    "de_biao_qian": "的标签",
    "mei_you_fu_he_tiao_jian": "没有符合条件的客户",
    "xia_yi_ye": "下一页",
    "ke_hu_bian_hao": "客户编号",
    "fu_ze_ren": "· 负责人",
    "biao_qian_zu": "标签组",
    "yi_suo_ding": "已锁定",
    "zhi_xin_du": "置信度",
    "shou_ci": "首次",
    "zui_jin": "· 最近",
    "yi_ju": "依据",
    "cha_kan_hui_hua": "查看会话",
    "wu_ji_lu_de_yi_ju": "无记录的依据",
    "yi_chu": "移除",
    "suo_ding": "锁定",
    "yi_chu_biao_qian": "移除标签",
    "yi_chu_li_you": "移除理由",
    "que_ren_yi_chu": "确认移除",
    "qu_xiao": "取消",
    "zan_wu_biao_qian": "暂无标签",
    "biao_qian_ji_lu": "标签记录",
    "wen_dang_2": "qc-service API 文档",
    "cuo_wu_bian_hao": "错误编号",
    "fan_hui_shou_ye": "返回首页",
    "cuo_wu_bian_hao_2": "（错误编号",
    "shou_ye": "首页",
    "yi_deng_lu_wei": "已登录为",
    "wen_dang_3": "API 文档：",
    "deng_lu": "登录",
    "deng_lu_2": "qc-service 登录",
    "yong_hu_ming": "用户名",
    "mi_ma": "密码",
    "dai_shen_shen_su": "待审申诉：",
    "cai_ding": "裁定",
    "zhuang_tai": "状态：",
    "jie_lun": "结论",
    "wei_chi": "维持",
    "che_xiao": "撤销",
    "li_you": "理由",
    "qing_xuan_ze": "（请选择）",
    "bei_zhu": "备注",
    "ti_jiao": "提交",
    "you": "由",
    "yu": "于",
    "li_you_2": "，理由：",
    "lu_yin": "录音",
    "zuo_xi_yu_ke_hu_de": "坐席与客户的响度曲线，阴影为命中区间",
    "bo_fang_kong_zhi": "播放控制",
    "hou_tui_miao": "后退 5 秒",
    "qian_jin_miao": "前进 5 秒",
    "su_du": "速度",
    "xun_huan_bo_fang_ming_zhong": "循环播放命中",
    "chu_li_ji_lu": "处理记录",
    "li_you_3": "· 理由：",
    "shen_su": "申诉 #",
    "yan_zhong_du": "严重度",
    "zhuang_tai_2": "· 状态",
    "shen_su_li_you": "申诉理由",
    "ti_jiao_shen_su": "提交申诉",
    "fan_hui": "返回",
    "gong": "共",
    "tiao": "条",
    "gui_ze": "规则",
    "fa_xian_shi_jian": "发现时间",
    "zhuang_tai_3": "状态",
    "cao_zuo": "操作",
    "shen_su_2": "申诉",
    "mei_you_wei_gui_ji_lu": "没有违规记录",
    "fu_he": "复核 #",
    "dui_lie_nei_fan_ye": "队列内翻页",
    "fan_hui_dui_lie": "返回队列",
    "shang_yi_tiao": "上一条",
    "xia_yi_tiao": "下一条",
    "zuo_xi_2": "坐席",
    "tuan_dui": "· 团队",
    "hui_hua_2": "· 会话",
    "fa_xian_yu": "· 发现于",
    "ming_zhong": "命中",
    "yan_zhong_du_2": "）· 严重度",
    "suan_zi": "· 算子",
    "ce_de": "测得",
    "kan_yuan_wen": "看原文",
    "ti_jiao_yu": "提交于",
    "kuai_jie_jian": "快捷键（?）",
    "qi_yong_dan_jian_kuai_jie": "启用单键快捷键",
    "kuai_jie_jian_2": "快捷键",
    "xia_yi_ge_shang_yi_ge": "下一个 / 上一个命中",
    "kong_ge": "空格",
    "bo_fang_zan_ting": "播放 / 暂停",
    "hou_tui_qian_jin_miao": "后退 / 前进 5 秒",
    "xuan_ze_wei_chi": "选择 维持",
    "xuan_ze_che_xiao": "选择 撤销",
    "ben_bang_zhu": "本帮助",
    "guan_bi": "关闭",
    "shai_xuan": "筛选",
    "tuan_dui_2": "团队",
    "kai_shi_ri_qi": "开始日期",
    "jie_shu_ri_qi": "结束日期",
    "shen_su_chao_shi_de_zai": "申诉，超时的在前",
    "ti_jiao_shi_jian": "提交时间",
    "sheng_yu_shi_jian": "剩余时间",
    "mei_you_fu_he_tiao_jian_2": "没有符合条件的申诉",
}


def already_decided(name: str) -> str:
    """A stale form (UI.md): someone decided first."""
    return f"已由 {name} 处理"


def remaining(deadline: datetime, now: datetime) -> str:
    """``剩余 X 小时`` (X rounded down), ``剩余 不足1小时``, or ``已超时`` (UI.md, Definitions)."""
    hours = (deadline - now).total_seconds() / 3600
    if hours <= 0:
        return OVERDUE
    if hours < 1:
        return UNDER_AN_HOUR
    return f"剩余 {math.floor(hours)} 小时"


def yaml_error(line: int, column: int, message: str) -> str:
    return f"第 {line} 行，第 {column} 列：{message}"


def hhmm(value: datetime, tz: str) -> str:
    return value.astimezone(ZoneInfo(tz)).strftime("%H:%M")


def when(value: datetime | None, tz: str) -> str:
    """``YYYY-MM-DD HH:mm`` in the tenant's zone (UI.md)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def mmss(seconds: float | None) -> str:
    """``mm:ss`` of an evidence start, rounded down to the second (UI.md)."""
    total = int(seconds or 0)
    return f"{total // 60:02d}:{total % 60:02d}"


def segment_leaf(path: str) -> str:
    """``segments[0].when.all[1].in_group`` → 在群 (why a customer is in a segment)."""
    leaf = path.rsplit(".", 1)[-1]
    return SEGMENT_LEAF.get(leaf, leaf)


def percent(x: float | None) -> str:
    """Percentages to one decimal (UI.md)."""
    return "—" if x is None else f"{x * 100:.1f}%"


def jump_label(seconds: float | None) -> str:
    """The accessible name of a seek button: ``跳转到 mm:ss 命中``."""
    return f"跳转到 {mmss(seconds)} 命中"
